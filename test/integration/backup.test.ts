/**
 * Instance backups end to end: the backups API (create, list, rename,
 * delete), `incus export` in Incus's tarball layout, export → delete →
 * import giving back the instance with its snapshots, and truncated or
 * corrupted files refused with nothing left behind. The pool driver comes
 * from INCUS_TEST_POOL_DRIVER (default dir).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';
import type { HttpMethod } from '../../lib/client/transport';

const DRIVER = process.env.INCUS_TEST_POOL_DRIVER || 'dir';

t.test('instance backups: export, import, bad files', async (t) => {
  const d = await withDaemon(t);
  const pool = DRIVER === 'dir' ? 'default' : 'backuptest';
  if (DRIVER !== 'dir') await d.client.createStoragePool({ name: pool, driver: DRIVER, config: {}, description: '' });
  const names = ['b1', 'b2', 'b3'];
  t.teardown(async () => {
    for (const n of names) await d.cli(['delete', '-f', n]);
    if (DRIVER !== 'dir') await d.cli(['storage', 'delete', pool]);
  });
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const vol = (n: string): string => join(d.dir, 'storage-pools', pool, 'containers', n);
  const snapVol = (n: string, s: string): string => join(d.dir, 'storage-pools', pool, 'containers-snapshots', n, s);

  await ok(['init', 'busybox', 'b1', '-s', pool, '-c', 'user.mark=one']);
  writeFileSync(join(vol('b1'), 'rootfs', 'marker'), 'before\n');
  await ok(['storage', 'volume', 'set', pool, 'container/b1', 'user.foo=at-snap0']);
  await ok(['snapshot', 'create', 'b1', 'snap0']);
  await ok(['storage', 'volume', 'set', pool, 'container/b1', 'user.foo=after']);
  writeFileSync(join(vol('b1'), 'rootfs', 'marker'), 'after\n');
  const volKey = async (v: string): Promise<string> => (await ok(['storage', 'volume', 'get', pool, v, 'user.foo'])).trim();
  t.equal(await volKey('container/b1/snap0'), 'at-snap0', "an instance snapshot keeps the root volume's config as it was");

  // The API: create, list, rename, delete.
  const created = await d.client.raw('POST', '/1.0/instances/b1/backups', { name: 'bk', compression_algorithm: 'none' });
  t.equal((created.response as { type: string }).type, 'async');
  await d.client.raw('GET', `${(created.response as { operation: string }).operation}/wait`);
  const list = (await d.client.raw('GET', '/1.0/instances/b1/backups?recursion=1')).response as unknown as { metadata: { name: string; instance_only: boolean }[] };
  t.same(
    list.metadata.map((b) => b.name),
    ['bk'],
  );
  const ren = await d.client.raw('POST', '/1.0/instances/b1/backups/bk', { name: 'bk2' });
  await d.client.raw('GET', `${(ren.response as { operation: string }).operation}/wait`);
  const one = (await d.client.raw('GET', '/1.0/instances/b1/backups/bk2')).response as unknown as { metadata: { name: string } };
  t.equal(one.metadata.name, 'bk2', 'renamed');
  const del = await d.client.raw('DELETE', '/1.0/instances/b1/backups/bk2');
  await d.client.raw('GET', `${(del.response as { operation: string }).operation}/wait`);
  const gone = await d.client.raw('GET', '/1.0/instances/b1/backups/bk2').catch((e: Error & { status?: number }) => e);
  t.equal((gone as { status?: number }).status, 404, 'deleted');
  // As in Incus, a backup of an instance that is not there is a missing backup.
  for (const [method, path] of [['POST', '/1.0/instances/nope/backups/bk'], ['GET', '/1.0/instances/nope/backups/bk'], ['DELETE', '/1.0/instances/nope/backups/bk']] as [HttpMethod, string][]) {
    const e = (await d.client.raw(method, path, method === 'POST' ? { name: 'x' } : undefined).catch((err: Error) => err)) as Error & { status?: number };
    t.match({ status: e.status, message: e.message }, { status: 404, message: /Instance backup not found/ }, `${method} ${path}`);
  }
  if (DRIVER !== 'btrfs') {
    // As Incus: where the driver has no optimized backups, asking for one makes a normal one.
    const opt = await d.client.raw('POST', '/1.0/instances/b1/backups', { name: 'opt', optimized_storage: true, compression_algorithm: 'none' });
    await d.client.raw('GET', `${(opt.response as { operation: string }).operation}/wait`);
    const row = (await d.client.raw('GET', '/1.0/instances/b1/backups/opt')).response as unknown as { metadata: { optimized_storage: boolean } };
    t.equal(row.metadata.optimized_storage, false, `the backup on ${DRIVER} records that it is not optimized`);
    const del = await d.client.raw('DELETE', '/1.0/instances/b1/backups/opt');
    await d.client.raw('GET', `${(del.response as { operation: string }).operation}/wait`);
    const plain = join(d.dir, 'b1-opt.tar.gz');
    await ok(['export', 'b1', plain, '--optimized-storage']);
    const listed = spawnSync('tar', ['-tzf', plain], { encoding: 'utf8' }).stdout.split('\n');
    t.ok(listed.includes('backup/container/rootfs/marker') && !listed.includes('backup/container.bin'), 'an --optimized-storage export holds the trees');
    t.match(spawnSync('tar', ['-xOzf', plain, 'backup/index.yaml'], { encoding: 'utf8' }).stdout, /^optimized: false$/m, 'and its index says optimized: false');
  }

  const file = join(d.dir, 'b1.tar.gz');
  await ok(['export', 'b1', file]);
  const members = spawnSync('tar', ['-tzf', file], { encoding: 'utf8' }).stdout.split('\n');
  t.equal(members[0], 'backup/index.yaml', 'index first');
  t.ok(members.includes('backup/container/rootfs/marker'), 'volume under backup/container');
  t.ok(members.includes('backup/snapshots/snap0/rootfs/marker'), 'snapshot under backup/snapshots/snap0');
  t.same(readdirSync(join(d.dir, 'backups', 'instances')).flatMap((x) => readdirSync(join(d.dir, 'backups', 'instances', x))), [], 'the export removed its server-side backup');

  await ok(['delete', 'b1']);
  await ok(['import', file]);
  const b1 = await d.client.getInstance('b1');
  t.equal(b1.config['user.mark'], 'one', 'config back');
  t.equal(readFileSync(join(vol('b1'), 'rootfs', 'marker'), 'utf8'), 'after\n', 'volume back');
  t.equal(readFileSync(join(snapVol('b1', 'snap0'), 'rootfs', 'marker'), 'utf8'), 'before\n', 'snapshot volume back');
  const snaps = JSON.parse(await ok(['snapshot', 'list', 'b1', '-f', 'json'])) as { name: string }[];
  t.same(
    snaps.map((s) => s.name),
    ['snap0'],
    'snapshot row back',
  );
  t.equal(await volKey('container/b1'), 'after', "the root volume's config comes back");
  t.equal(await volKey('container/b1/snap0'), 'at-snap0', "and its snapshot's");
  await ok(['snapshot', 'rename', 'b1', 'snap0', 'snap1']);
  t.equal(await volKey('container/b1/snap1'), 'at-snap0', 'the volume snapshot follows a snapshot rename');
  await ok(['snapshot', 'rename', 'b1', 'snap1', 'snap0']);
  await ok(['start', 'b1']);
  t.equal(lxcAttach(d.dir, 'b1', ['cat', '/marker']).out, 'after\n', 'the imported instance starts and has the file');
  await ok(['stop', '-f', 'b1']);

  await ok(['import', file, 'b2', '--storage', pool]);
  t.equal(readFileSync(join(vol('b2'), 'rootfs', 'marker'), 'utf8'), 'after\n', 'imported under another name');
  const again = await d.cli(['import', file, 'b2']);
  t.not(again.code, 0, 'importing onto an existing name fails');
  await ok(['delete', 'b2']);
  const piped = await d.cli(['import', '-', 'b2'], readFileSync(file));
  t.equal(piped.code, 0, `import - reads the file from stdin: ${piped.stderr}`);
  t.equal(readFileSync(join(vol('b2'), 'rootfs', 'marker'), 'utf8'), 'after\n', 'imported from stdin');
  const noPool = await d.cli(['import', file, 'b3', '--storage', 'nosuchpool']);
  t.match(noPool.stderr, /Storage pool not found/, 'a named pool that is not there is an error');

  for (const algo of ['zstd', 'none']) {
    const other = join(d.dir, `b1.${algo}`);
    await ok(['export', 'b1', other, '--compression', algo, '--instance-only']);
    await ok(['import', other, 'b3']);
    t.equal(readFileSync(join(vol('b3'), 'rootfs', 'marker'), 'utf8'), 'after\n', `${algo} export imports`);
    t.same(JSON.parse(await ok(['snapshot', 'list', 'b3', '-f', 'json'])), [], '--instance-only has no snapshots');
    await ok(['delete', 'b3']);
  }

  const trunc = join(d.dir, 'trunc.tar.gz');
  const whole = readFileSync(file);
  writeFileSync(trunc, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const bad = join(d.dir, 'bad.tar.gz');
  writeFileSync(bad, Buffer.concat([whole.subarray(0, 64), Buffer.alloc(4096, 7)]));
  for (const f of [trunc, bad]) {
    const r = await d.cli(['import', f, 'b3']);
    t.not(r.code, 0, `${f} refused`);
    t.match(r.stderr, /Invalid backup file/, 'with a clear error');
    t.notOk(existsSync(vol('b3')), 'no volume left behind');
    t.notOk(existsSync(join(d.dir, 'storage-pools', pool, 'containers-snapshots', 'b3')), 'no snapshot left behind');
    t.same((await d.client.getInstances(0)).sort(), ['b1', 'b2'], 'nothing half-imported');
  }
  t.same(readdirSync(join(d.dir, 'backups')).filter((x) => x.startsWith('import_')), [], 'upload files removed');
  t.ok(statSync(file).size > 0);
});
