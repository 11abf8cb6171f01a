/**
 * Custom volume snapshots beyond the round trip, as Incus's
 * storage_volume_snapshots suite uses them: `storage volume edit
 * POOL VOL/SNAP` (description, expiry set and cleared), `snapshot create
 * --no-expiry|--expiry|--reuse`, restore refused while a running instance
 * uses the volume and allowed once it is stopped, and copies inside one
 * server: from a snapshot, with the snapshots, --volume-only, --refresh and
 * --target-project.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

const volDir = (d: TestDaemon, name: string, project = 'default'): string => join(d.dir, 'storage-pools', 'default', 'custom', `${project}_${name}`);

t.test('volume snapshots: edit, expiry flags, restore rules, local copies', async (t) => {
  const d = await withDaemon(t);
  const ok = async (args: string[], stdin?: string): Promise<string> => {
    const r = await d.cli(args, stdin);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const snaps = async (vol: string, project = 'default'): Promise<string[]> =>
    ((await rawRequest(d.socket, 'GET', `/1.0/storage-pools/default/volumes/custom/${vol}/snapshots?recursion=1&project=${project}`)).body.metadata as { name: string }[]).map((s) => s.name).sort();

  await ok(['storage', 'volume', 'create', 'default', 'v1', 'user.tag=blue']);
  writeFileSync(join(volDir(d, 'v1'), 'data'), 'one\n');
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 's1']);

  // edit VOL/SNAP: description and expiry; without expires_at the snapshot no longer expires.
  const shown = await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 's1']);
  await ok(['storage', 'volume', 'edit', 'default', 'v1/s1'], shown.replace(/^description:.*$/m, 'description: foo').replace(/^expires_at:.*$/m, 'expires_at: 2100-01-02T15:04:05Z'));
  const edited = await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 's1']);
  t.match(edited, /^description: foo$/m, 'description edited');
  t.match(edited, /^expires_at: 2100-01-02T15:04:05Z$/m, 'expiry edited');
  await ok(['storage', 'volume', 'edit', 'default', 'v1/s1'], edited.replace(/^expires_at:.*\n/m, ''));
  t.match(await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 's1']), /^expires_at: 0001-01-01T00:00:00Z$/m, 'expiry cleared');

  // snapshots.expiry applies unless --no-expiry; --expiry sets its own; --reuse replaces.
  await ok(['storage', 'volume', 'set', 'default', 'v1', 'snapshots.expiry=1d']);
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 'auto']);
  t.notMatch(await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 'auto']), /expires_at: 0001-01-01/, 'the volume expiry applies');
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 'kept', '--no-expiry']);
  t.match(await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 'kept']), /expires_at: 0001-01-01T00:00:00Z/, '--no-expiry');
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 'kept', '--reuse', '--expiry', '2d']);
  const reused = await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 'kept']);
  const expires = Date.parse(/^expires_at: (.*)$/m.exec(reused)![1]!);
  t.ok(Math.abs(expires - Date.now() - 2 * 86400_000) < 600_000, '--reuse took it again with --expiry 2d');
  for (const s of ['auto', 'kept']) await ok(['storage', 'volume', 'snapshot', 'delete', 'default', 'v1', s]);
  await ok(['storage', 'volume', 'unset', 'default', 'v1', 'snapshots.expiry']);

  // Restore: refused while a running instance uses the volume, fine once it is stopped.
  await ok(['launch', 'busybox', 'c1']);
  t.teardown(() => d.cli(['delete', '-f', 'c1']));
  await ok(['storage', 'volume', 'attach', 'default', 'v1', 'c1', '/mnt']);
  writeFileSync(join(volDir(d, 'v1'), 'data'), 'two\n');
  const busy = await d.cli(['storage', 'volume', 'snapshot', 'restore', 'default', 'v1', 's1']);
  t.not(busy.code, 0, 'restore refused while c1 runs');
  t.match(busy.stderr, /Cannot restore custom volume used by running instances/);
  await ok(['stop', '-f', 'c1']);
  await ok(['storage', 'volume', 'snapshot', 'restore', 'default', 'v1', 's1']);
  t.equal(readFileSync(join(volDir(d, 'v1'), 'data'), 'utf8'), 'one\n', 'restored with c1 stopped');
  await ok(['storage', 'volume', 'detach', 'default', 'v1', 'c1']);
  writeFileSync(join(volDir(d, 'v1'), 'data'), 'two\n');

  // Copies inside the server.
  await ok(['storage', 'volume', 'copy', 'default/v1/s1', 'default/from-snap']);
  t.equal(readFileSync(join(volDir(d, 'from-snap'), 'data'), 'utf8'), 'one\n', 'a snapshot copied: its content');
  t.same(await snaps('from-snap'), [], 'a snapshot copied: no snapshots');
  t.equal((await ok(['storage', 'volume', 'get', 'default', 'from-snap', 'user.tag'])).trim(), 'blue', "a snapshot copied: the snapshot's config");
  const bad = await d.cli(['storage', 'volume', 'copy', 'default/v1/s1', 'default/x', '--volume-only']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /Cannot set --volume-only when copying a snapshot/);

  await ok(['storage', 'volume', 'copy', 'default/v1', 'default/full']);
  t.equal(readFileSync(join(volDir(d, 'full'), 'data'), 'utf8'), 'two\n', 'a volume copied: its content');
  t.same(await snaps('full'), ['s1'], 'a volume copied: its snapshots too');
  t.equal(readFileSync(join(d.dir, 'storage-pools', 'default', 'custom-snapshots', 'default_full', 's1', 'data'), 'utf8'), 'one\n', "the copied snapshot holds the snapshot's content");
  await ok(['storage', 'volume', 'copy', 'default/v1', 'default/bare', '--volume-only']);
  t.same(await snaps('bare'), [], '--volume-only: no snapshots');

  // --refresh: the new content and the missing snapshot arrive; without it the name is taken.
  writeFileSync(join(volDir(d, 'v1'), 'data'), 'three\n');
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 's2']);
  const taken = await d.cli(['storage', 'volume', 'copy', 'default/v1', 'default/full']);
  t.not(taken.code, 0, 'copy onto an existing volume refused');
  await ok(['storage', 'volume', 'copy', 'default/v1', 'default/full', '--refresh']);
  t.equal(readFileSync(join(volDir(d, 'full'), 'data'), 'utf8'), 'three\n', 'refresh: the content');
  t.same(await snaps('full'), ['s1', 's2'], 'refresh: the missing snapshot');
  await ok(['storage', 'volume', 'copy', 'default/v1/s1', 'default/from-snap', '--refresh']);
  t.equal(readFileSync(join(volDir(d, 'from-snap'), 'data'), 'utf8'), 'one\n', 'refresh from a snapshot');

  // --target-project: the copy lands in the other project.
  await ok(['project', 'create', 'p1']);
  await ok(['storage', 'volume', 'copy', 'default/v1/s1', 'default/v1', '--target-project', 'p1']);
  t.equal(readFileSync(join(volDir(d, 'v1', 'p1'), 'data'), 'utf8'), 'one\n', 'copied into p1');
  await ok(['storage', 'volume', 'delete', 'default', 'v1', '--project', 'p1']);
  for (const v of ['v1', 'from-snap', 'full', 'bare']) await ok(['storage', 'volume', 'delete', 'default', v]);
});
