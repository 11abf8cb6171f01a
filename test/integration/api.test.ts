/** The rest of the issue-01 API surface, against a real daemon and real containers. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Event } from '../../lib/api/event';
import type { Operation } from '../../lib/api/operation';
import { buildBusyboxImage } from '../../lib/image-builder/busybox';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

t.test('events: operation and lifecycle events during a launch', async (t) => {
  const d = await withDaemon(t);
  const stream = await d.client.events(['operation', 'lifecycle']);
  t.teardown(() => stream.close());
  const seen: Event[] = [];
  stream.on((ev) => seen.push(ev));
  t.equal((await d.cli(['launch', 'busybox', 'ev1'])).code, 0);
  await new Promise((r) => setTimeout(r, 200));
  const actions = seen.filter((e) => e.type === 'lifecycle').map((e) => (e.metadata as { action: string }).action);
  t.ok(actions.includes('instance-created'), 'instance-created');
  t.ok(actions.includes('instance-started'), 'instance-started');
  const ops = seen.filter((e) => e.type === 'operation').map((e) => e.metadata as Operation);
  t.ok(ops.some((o) => o.status === 'Running'), 'an operation was announced running');
  t.ok(ops.some((o) => o.status === 'Success'), 'and then successful');
  t.equal((await d.cli(['delete', '-f', 'ev1'])).code, 0);
});

t.test('privileged container, gzip image, list shapes, filter, rename, pause', async (t) => {
  const d = await withDaemon(t);
  const gz = await buildBusyboxImage({ output: join(d.dir, 'bb.tar.gz'), compression: 'gzip' });
  const imp = await d.cli(['image', 'import', gz.path, '--alias', 'bbgz']);
  t.equal(imp.code, 0, imp.stderr);
  t.match(imp.stdout, gz.sha256, 'fingerprint is the sha256 of the tarball');

  t.equal((await d.cli(['launch', 'bbgz', 'priv', '-c', 'security.privileged=true'])).code, 0);
  const st = await d.client.getInstanceState('priv');
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${st.pid}/status`, 'utf8'))?.[1];
  t.equal(uid, '0', 'privileged init runs as host root');

  t.equal((await d.cli(['create', 'busybox', 'other'])).code, 0);
  const urls = await rawRequest(d.socket, 'GET', '/1.0/instances');
  t.same(urls.body.metadata, ['/1.0/instances/other', '/1.0/instances/priv']);
  const r1 = await rawRequest(d.socket, 'GET', '/1.0/instances?recursion=1');
  t.same((r1.body.metadata as { name: string; status: string }[]).map((i) => [i.name, i.status]), [['other', 'Stopped'], ['priv', 'Running']]);
  const r2 = await rawRequest(d.socket, 'GET', '/1.0/instances?recursion=2&filter=status+eq+Running');
  const full = r2.body.metadata as { name: string; state: { pid: number } }[];
  t.equal(full.length, 1);
  t.equal(full[0].name, 'priv');
  t.equal(full[0].state.pid, st.pid);

  t.equal((await d.cli(['pause', 'priv'])).code, 0);
  t.equal((await d.client.getInstanceState('priv')).status, 'Frozen');
  t.equal((await d.cli(['resume', 'priv'])).code, 0);
  t.equal((await d.client.getInstanceState('priv')).status, 'Running');

  const ren = await d.cli(['rename', 'other', 'renamed']);
  t.equal(ren.code, 0, ren.stderr);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/instances/other')).status, 404);
  t.equal((await d.cli(['start', 'renamed'])).code, 0, 'the renamed instance starts');
  t.equal((await d.client.getInstanceState('renamed')).status, 'Running');
  const busy = await rawRequest(d.socket, 'POST', '/1.0/instances/renamed', JSON.stringify({ name: 'x' }));
  const op = busy.body.metadata as Operation;
  const waited = await rawRequest(d.socket, 'GET', `/1.0/operations/${op.id}/wait?timeout=10`);
  t.equal((waited.body.metadata as Operation).status, 'Failure', 'renaming a running instance fails');
  t.match((waited.body.metadata as Operation).err, /running/);
  for (const n of ['priv', 'renamed']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});

t.test('images and aliases through the API', async (t) => {
  const d = await withDaemon(t);
  const imgs = (await rawRequest(d.socket, 'GET', '/1.0/images?recursion=1')).body.metadata as { fingerprint: string; aliases: { name: string }[] }[];
  t.equal(imgs.length, 1);
  const fp = imgs[0].fingerprint;
  t.same(imgs[0].aliases.map((a) => a.name), ['busybox']);
  t.equal((await rawRequest(d.socket, 'GET', `/1.0/images/${fp.slice(0, 12)}`)).status, 200, 'prefix lookup');
  const add = await rawRequest(d.socket, 'POST', '/1.0/images/aliases', JSON.stringify({ name: 'tiny/bb', target: fp }));
  t.equal(add.status, 200, JSON.stringify(add.body));
  t.equal((await rawRequest(d.socket, 'POST', '/1.0/images/aliases', JSON.stringify({ name: 'tiny/bb', target: fp }))).status, 409);
  const got = await rawRequest(d.socket, 'GET', '/1.0/images/aliases/tiny%2Fbb');
  t.equal((got.body.metadata as { target: string }).target, fp);
  t.equal((await rawRequest(d.socket, 'POST', '/1.0/images/aliases/tiny%2Fbb', JSON.stringify({ name: 'bb2' }))).status, 200);
  t.equal((await rawRequest(d.socket, 'DELETE', '/1.0/images/aliases/bb2')).status, 200);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/images/aliases/bb2')).status, 404);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/images/aliases/nope')).body.error, 'Image alias not found');
  const junk = await rawRequest(d.socket, 'POST', '/1.0/images', 'not an image', { 'Content-Type': 'application/octet-stream' });
  t.equal(junk.status, 400, 'a non-image upload is refused');
  const del = await d.cli(['image', 'delete', 'busybox']);
  t.equal(del.code, 0, del.stderr);
  t.same((await rawRequest(d.socket, 'GET', '/1.0/images')).body.metadata, []);
});

t.test('server info, profiles, pools, cluster, operations', async (t) => {
  const d = await withDaemon(t);
  const srv = (await rawRequest(d.socket, 'GET', '/1.0')).body.metadata as Record<string, unknown>;
  t.equal(srv.api_version, '1.0');
  t.ok((srv.api_extensions as string[]).includes('instances'));
  const env = srv.environment as Record<string, unknown>;
  // Both drivers where QEMU is installed (setup.sh installs it), as Incus reports them.
  t.match(env.driver, /^lxc( \| qemu)?$/);
  t.equal(env.server, 'incus');
  t.same((await rawRequest(d.socket, 'GET', '/')).body.metadata, ['/1.0']);
  const prof = (await rawRequest(d.socket, 'GET', '/1.0/profiles/default')).body.metadata as { devices: Record<string, Record<string, string>> };
  t.same(prof.devices.root, { type: 'disk', path: '/', pool: 'default' });
  const pools = (await rawRequest(d.socket, 'GET', '/1.0/storage-pools?recursion=1')).body.metadata as { name: string; driver: string }[];
  t.same(pools.map((p) => [p.name, p.driver]), [['default', 'dir']]);
  t.equal(((await rawRequest(d.socket, 'GET', '/1.0/cluster')).body.metadata as { enabled: boolean }).enabled, false);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/operations/nope')).status, 404);
  t.equal((await rawRequest(d.socket, 'GET', '/1.0/nope')).status, 404);
  const put = await rawRequest(d.socket, 'PUT', '/1.0', JSON.stringify({ config: { 'bogus.key': 'x' } }));
  t.equal(put.status, 400);
  t.match(String(put.body.error), /bogus\.key/);
});
