/**
 * Custom volumes between two daemons on 127.0.0.1 HTTPS: `storage volume
 * copy|move pool/vol b:pool/vol` in pull, push and relay mode with
 * snapshots, a snapshot as the source, a block volume, --volume-only, --refresh, a taken name
 * refused, and the REST source refusing a non-custom volume.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { clientFor, listen, ok } from './lib/two-servers';

const volDir = (d: TestDaemon, name: string): string => join(d.dir, 'storage-pools', 'default', 'custom', `default_${name}`);
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

t.test('storage volume copy/move to another server: modes, snapshots, block, refresh, errors', async (t) => {
  const a = await withDaemon(t);
  const b = await withDaemon(t);
  await listen(a);
  const bAddr = (await listen(b)).address;
  const incus = await clientFor(t, a, b, bAddr);
  const snapList = async (remotePool: string, vol: string): Promise<string> =>
    (await incus(['storage', 'volume', 'snapshot', 'list', remotePool, vol, '-f', 'csv'])).stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(',')[0])
      .join(' ');

  ok(t, await incus(['storage', 'volume', 'create', 'default', 'v1', 'user.tag=blue']), 'create v1');
  writeFileSync(join(volDir(a, 'v1'), 'data'), 'one\n');
  ok(t, await incus(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 's1']), 'snapshot s1');
  writeFileSync(join(volDir(a, 'v1'), 'data'), 'two\n');

  for (const mode of ['pull', 'push', 'relay']) {
    const name = `v1-${mode}`;
    const r = await incus(['storage', 'volume', 'copy', 'default/v1', `b:default/${name}`, '--mode', mode]);
    ok(t, r, `copy --mode ${mode}`);
    t.match(r.stdout, /Storage volume copied successfully!/);
    t.equal(readFileSync(join(volDir(b, name), 'data'), 'utf8'), 'two\n', `${mode}: the data arrived`);
    t.equal(await snapList('b:default', name), 's1', `${mode}: the snapshot is listed on the target`);
    const show = await incus(['storage', 'volume', 'get', 'b:default', name, 'user.tag']);
    t.equal(show.stdout, 'blue\n', `${mode}: config travels`);
  }
  t.equal(readFileSync(join(volDir(a, 'v1'), 'data'), 'utf8'), 'two\n', 'the source is untouched');

  // A snapshot as the source: its content, none of the snapshots.
  for (const mode of ['pull', 'push']) {
    ok(t, await incus(['storage', 'volume', 'copy', 'default/v1/s1', `b:default/from-s1-${mode}`, '--mode', mode]), `copy a snapshot --mode ${mode}`);
    t.equal(readFileSync(join(volDir(b, `from-s1-${mode}`), 'data'), 'utf8'), 'one\n', `${mode}: the snapshot's data arrived`);
    t.equal(await snapList('b:default', `from-s1-${mode}`), '', `${mode}: no snapshots with a snapshot source`);
  }

  // --volume-only leaves the snapshots behind.
  ok(t, await incus(['storage', 'volume', 'copy', 'default/v1', 'b:default/bare', '--volume-only']), 'copy --volume-only');
  t.equal(await snapList('b:default', 'bare'), '', 'no snapshots with --volume-only');

  // A taken name is refused (409) and the existing volume keeps its data.
  const taken = await incus(['storage', 'volume', 'copy', 'default/v1', 'b:default/v1-pull']);
  t.not(taken.code, 0, 'copy onto an existing volume refused');
  t.match(taken.stderr, /already exists/);
  t.equal(readFileSync(join(volDir(b, 'v1-pull'), 'data'), 'utf8'), 'two\n', 'the existing volume is untouched');

  // --refresh: the changed file and the new snapshot arrive.
  writeFileSync(join(volDir(a, 'v1'), 'data'), 'three\n');
  ok(t, await incus(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 's2']), 'snapshot s2');
  ok(t, await incus(['storage', 'volume', 'copy', 'default/v1', 'b:default/v1-pull', '--refresh']), 'copy --refresh');
  t.equal(readFileSync(join(volDir(b, 'v1-pull'), 'data'), 'utf8'), 'three\n', 'refresh: the change arrived');
  t.equal(await snapList('b:default', 'v1-pull'), 's1 s2', 'refresh: the new snapshot arrived');

  // A block volume: the disk arrives byte for byte.
  ok(t, await incus(['storage', 'volume', 'create', 'default', 'blk', '--type', 'block', 'size=8MiB']), 'create a block volume');
  const disk = join(volDir(a, 'blk'), 'root.img');
  const fd = openSync(disk, 'r+');
  writeSync(fd, Buffer.from('block data at 1 MiB'), 0, 19, 1024 * 1024);
  closeSync(fd);
  ok(t, await incus(['storage', 'volume', 'copy', 'default/blk', 'b:default/blk']), 'copy the block volume');
  t.equal(sha(join(volDir(b, 'blk'), 'root.img')), sha(disk), 'the block disk arrived whole');
  const blk = await rawRequest(b.socket, 'GET', '/1.0/storage-pools/default/volumes/custom/blk');
  t.equal((blk.body.metadata as { content_type: string }).content_type, 'block', 'content type block on the target');

  // move: the source goes once the target has it.
  ok(t, await incus(['storage', 'volume', 'move', 'default/v1', 'b:default/moved']), 'move');
  t.equal((await rawRequest(a.socket, 'GET', '/1.0/storage-pools/default/volumes/custom/v1')).status, 404, 'nothing left on the source');
  t.notOk(existsSync(volDir(a, 'v1')), 'the source directory is gone');
  t.equal(readFileSync(join(volDir(b, 'moved'), 'data'), 'utf8'), 'three\n', 'moved has the data');
  t.equal(await snapList('b:default', 'moved'), 's1 s2', 'moved has the snapshots');

  // The REST source: only custom volumes; an unknown mode on the target is 501; a missing operation is 400.
  ok(t, await incus(['launch', 'busybox', 'c1']), 'launch c1');
  const inst = await rawRequest(a.socket, 'POST', '/1.0/storage-pools/default/volumes/container/c1', JSON.stringify({ name: 'c1', migration: true }));
  t.equal(inst.status, 400, 'an instance volume is not migrated with the storage API');
  const badMode = await rawRequest(b.socket, 'POST', '/1.0/storage-pools/default/volumes/custom', JSON.stringify({ name: 'x', source: { type: 'migration', mode: 'sideways' } }));
  t.equal(badMode.status, 501, 'unknown mode: 501');
  const noOp = await rawRequest(b.socket, 'POST', '/1.0/storage-pools/default/volumes/custom', JSON.stringify({ name: 'x', source: { type: 'migration', mode: 'pull', websockets: { control: 'a', fs: 'b' } } }));
  t.equal(noOp.status, 400, 'pull without an operation: 400');
  t.equal((await rawRequest(b.socket, 'GET', '/1.0/storage-pools/default/volumes/custom/x')).status, 404, 'nothing created by the refused requests');
});
