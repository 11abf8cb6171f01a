/**
 * What Incus's upstream `migration` suite leans on beyond plain copies:
 * copies keep the root volume's config and its snapshots' (locally and to
 * another server), start/stop/delete of instances on two remotes in one
 * call, `copy --refresh` within one server and its refusal onto a running
 * instance (both ways), and ISO custom volumes imported, copied and moved
 * to another server.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { clientFor, listen, ok } from './lib/two-servers';

const volKey = async (run: (a: string[]) => Promise<{ stdout: string }>, pool: string, vol: string): Promise<string> =>
  (await run(['storage', 'volume', 'get', pool, vol, 'user.foo'])).stdout.trim();

t.test('local copies: volume config kept, --refresh syncs snapshots and content, refused onto a running instance', async (t) => {
  const d = await withDaemon(t);
  t.teardown(async () => {
    for (const n of ['c1', 'c2', 'c3']) await d.cli(['delete', '-f', n]);
  });
  ok(t, await d.cli(['init', 'busybox', 'c1']), 'init c1');
  ok(t, await d.cli(['storage', 'volume', 'set', 'default', 'container/c1', 'user.foo=snap0']), 'volume key for snap0');
  ok(t, await d.cli(['snapshot', 'create', 'c1']), 'snapshot snap0');
  ok(t, await d.cli(['storage', 'volume', 'set', 'default', 'container/c1', 'user.foo=post']), 'volume key after');

  ok(t, await d.cli(['copy', 'c1', 'c2']), 'copy c1 c2');
  t.equal(await volKey(d.cli.bind(d), 'default', 'container/c2'), 'post', 'the copy keeps the volume config');
  t.equal(await volKey(d.cli.bind(d), 'default', 'container/c2/snap0'), 'snap0', "the copy's snapshot keeps its volume config");

  // Refresh: a new snapshot and a changed file arrive; the target's extra snapshot goes.
  ok(t, await d.cli(['start', 'c1']), 'start c1');
  t.equal(d.attach('c1', ['sh', '-c', 'echo refreshed > /root/f']).code, 0, 'write a file');
  ok(t, await d.cli(['stop', '-f', 'c1']), 'stop c1');
  ok(t, await d.cli(['snapshot', 'create', 'c1', 'snap1']), 'snapshot snap1');
  ok(t, await d.cli(['snapshot', 'create', 'c2', 'extra']), 'a snapshot only the target has');
  ok(t, await d.cli(['config', 'set', 'c1', 'user.after=yes']), 'source config change');
  ok(t, await d.cli(['copy', 'c1', 'c2', '--refresh']), 'copy --refresh');
  t.equal((await d.cli(['snapshot', 'list', 'c2', '-f', 'csv', '-c', 'n'])).stdout, 'snap0\nsnap1\n', 'snapshots synced');
  t.equal((await d.cli(['config', 'get', 'c2', 'user.after'])).stdout.trim(), 'yes', 'the target took the source config');
  ok(t, await d.cli(['start', 'c2']), 'start c2');
  t.equal(d.attach('c2', ['cat', '/root/f']).out, 'refreshed\n', 'the changed file arrived');

  // A running target is refused, as Incus's LockExclusive.
  const busy = await d.cli(['copy', 'c1', 'c2', '--refresh']);
  t.not(busy.code, 0, 'refresh onto a running instance fails');
  t.match(busy.stderr, /Failed getting exclusive access to target instance: Instance is running/);
  ok(t, await d.cli(['stop', '-f', 'c2']), 'stop c2');

  // --instance-only leaves the target's snapshots alone; a missing target is a plain copy.
  ok(t, await d.cli(['snapshot', 'delete', 'c1', 'snap1']), 'source drops snap1');
  ok(t, await d.cli(['copy', 'c1', 'c2', '--refresh', '--instance-only']), 'copy --refresh --instance-only');
  t.equal((await d.cli(['snapshot', 'list', 'c2', '-f', 'csv', '-c', 'n'])).stdout, 'snap0\nsnap1\n', 'target snapshots kept');
  ok(t, await d.cli(['copy', 'c1', 'c3', '--refresh']), 'refresh onto a missing instance copies');
  t.equal((await d.cli(['snapshot', 'list', 'c3', '-f', 'csv', '-c', 'n'])).stdout, 'snap0\n', 'the copy has the snapshots');
});

t.test('two servers: volume config travels, start/stop/delete across remotes, refresh onto a running target refused, ISO volumes', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  await listen(a);
  const incus = await clientFor(t, a, b, (await listen(b)).address);

  ok(t, await incus(['init', 'busybox', 'c1']), 'init c1');
  ok(t, await incus(['storage', 'volume', 'set', 'default', 'container/c1', 'user.foo=snap0']), 'volume key for snap0');
  ok(t, await incus(['snapshot', 'create', 'c1']), 'snapshot snap0');
  ok(t, await incus(['storage', 'volume', 'set', 'default', 'container/c1', 'user.foo=post']), 'volume key after');
  ok(t, await incus(['copy', 'c1', 'b:c2']), 'copy to b');
  t.equal(await volKey(incus, 'b:default', 'container/c2'), 'post', 'the volume config arrived');
  t.equal(await volKey(incus, 'b:default', 'container/c2/snap0'), 'snap0', "the snapshot's volume config arrived");

  ok(t, await incus(['start', 'local:c1', 'b:c2']), 'start on two remotes in one call');
  t.match((await incus(['list', 'b:', '-f', 'csv', '-c', 'ns'])).stdout, /^c2,RUNNING$/m, 'c2 runs on b');
  t.match((await incus(['list', 'local:', '-f', 'csv', '-c', 'ns'])).stdout, /^c1,RUNNING$/m, 'c1 runs on a');
  const busy = await incus(['copy', 'c1', 'b:c2', '--refresh']);
  t.not(busy.code, 0, 'refresh onto a running target fails');
  t.match(busy.stderr, /Instance is running/);
  ok(t, await incus(['stop', '-f', 'local:c1', 'b:c2']), 'stop on two remotes in one call');
  ok(t, await incus(['delete', 'local:c1', 'b:c2']), 'delete on two remotes in one call');
  t.equal((await rawRequest(a.socket, 'GET', '/1.0/instances/c1')).status, 404, 'c1 gone');
  t.equal((await rawRequest(b.socket, 'GET', '/1.0/instances/c2')).status, 404, 'c2 gone');

  // ISO volumes: imported from a .iso file, copied and moved as ISO volumes.
  const iso = join(a.dir, 'foo.iso');
  writeFileSync(iso, Buffer.alloc(2 * 1024 * 1024, 7));
  ok(t, await incus(['storage', 'volume', 'import', 'local:default', iso, 'iso1']), 'import the ISO');
  t.match((await incus(['storage', 'volume', 'show', 'default', 'iso1'])).stdout, /content_type: iso/, 'an ISO volume');
  t.match((await incus(['storage', 'volume', 'get', 'default', 'iso1', 'size'])).stdout, /^2097152$/m, 'sized to the image');
  ok(t, await incus(['storage', 'volume', 'import', 'local:default', iso]), 'import named after the file');
  t.match((await incus(['storage', 'volume', 'show', 'default', 'foo'])).stdout, /content_type: iso/, 'volume foo from foo.iso');
  ok(t, await incus(['storage', 'volume', 'copy', 'local:default/iso1', 'b:default/iso1']), 'copy the ISO to b');
  t.match((await incus(['storage', 'volume', 'show', 'b:default', 'iso1'])).stdout, /content_type: iso/, 'an ISO volume on b');
  ok(t, await incus(['storage', 'volume', 'move', 'local:default/iso1', 'b:default/iso2']), 'move the ISO to b');
  t.match((await incus(['storage', 'volume', 'show', 'b:default', 'iso2'])).stdout, /content_type: iso/, 'moved as an ISO volume');
  t.not((await incus(['storage', 'volume', 'show', 'default', 'iso1'])).code, 0, 'the source is gone');
  for (const v of ['iso1', 'iso2']) ok(t, await incus(['storage', 'volume', 'delete', 'b:default', v]), `delete b:${v}`);
  ok(t, await incus(['storage', 'volume', 'delete', 'default', 'foo']), 'delete foo');
  const bad = await incus(['storage', 'volume', 'import', 'local:default', iso, 'x', '--type', 'tar']);
  t.match(bad.stderr, /Import type needs to be "backup" or "iso"/, 'unknown import type refused');
});
