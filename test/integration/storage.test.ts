/**
 * Storage pools and volumes on real pools: a btrfs pool on a loop file the
 * daemon creates (optimized images, qgroup quotas), custom volumes shared
 * by two containers, pool PUT/PATCH and /resources. The loop device, mount
 * and file are this test's own and are removed even when a check fails.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { lxcAttach } from './lib/attach';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

const haveBtrfs = spawnSync('mkfs.btrfs', ['--version']).status === 0 && readFileSync('/proc/filesystems', 'utf8').includes('btrfs');

function sh(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/**
 * Deletes the test's instances and pool through the daemon, then removes
 * whatever of the pool's own mount, loop devices and file is left.
 */
async function cleanupPool(d: TestDaemon, pool: string, instances: string[]): Promise<void> {
  for (const n of instances) await d.cli(['delete', '-f', n]).catch(() => undefined);
  await d.cli(['storage', 'delete', pool]).catch(() => undefined);
  const mountPath = join(d.dir, 'storage-pools', pool);
  const img = join(d.dir, 'disks', `${pool}.img`);
  if (sh(['mountpoint', '-q', mountPath]).code === 0 && sh(['umount', mountPath]).code !== 0) sh(['umount', '-l', mountPath]);
  if (existsSync(img)) {
    for (const line of sh(['losetup', '-j', img]).out.split('\n')) {
      const dev = line.split(':')[0]!.trim();
      if (dev.startsWith('/dev/loop')) sh(['losetup', '-d', dev]);
    }
    rmSync(img, { force: true });
  }
}

/** Milliseconds a launch takes through the CLI; throws with stderr when it fails. */
async function timedLaunch(d: TestDaemon, args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await d.cli(['launch', 'busybox', ...args]);
  if (r.code !== 0) throw new Error(`launch ${args.join(' ')}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

t.test('btrfs pool on a loop file: optimized images, quotas, snapshots', { skip: haveBtrfs ? false : 'no btrfs (mkfs.btrfs or kernel support missing)' }, async (t) => {
  const d = await withDaemon(t);
  const names = ['b1', 'b2', 'q1', 'd1'];
  try {
    const mk = await d.cli(['storage', 'create', 'p1', 'btrfs', 'size=1GiB']);
    t.equal(mk.code, 0, mk.stderr);
    const img = join(d.dir, 'disks', 'p1.img');
    t.ok(existsSync(img), 'the daemon made the loop file');
    t.equal(sh(['losetup', '-j', img]).out.split('\n').filter(Boolean).length, 1, 'one loop device attached');
    t.equal(sh(['stat', '-f', '-c', '%T', join(d.dir, 'storage-pools', 'p1')]).out.trim(), 'btrfs', 'mounted at the pool path');
    t.equal((await d.cli(['storage', 'get', 'p1', 'size'])).stdout.trim(), '1GiB');

    const dirMs = await timedLaunch(d, ['d1']);
    const first = await timedLaunch(d, ['b1', '-s', 'p1']);
    const vols = await rawRequest(d.socket, 'GET', '/1.0/storage-pools/p1/volumes/image');
    t.equal(vols.status, 200);
    const imageVols = vols.body.metadata as string[];
    t.equal(imageVols.length, 1, 'the image was unpacked once into an image volume');
    const fp = imageVols[0]!.split('/').pop()!;
    const imagePath = join(d.dir, 'storage-pools', 'p1', 'images', fp);
    const createdAt = sh(['stat', '-c', '%Z', imagePath]).out.trim();
    const second = await timedLaunch(d, ['b2', '-s', 'p1']);
    t.equal(sh(['stat', '-c', '%Z', imagePath]).out.trim(), createdAt, 'the second launch reused the image volume');
    t.equal(((await rawRequest(d.socket, 'GET', '/1.0/storage-pools/p1/volumes/image')).body.metadata as string[]).length, 1);
    t.equal(sh(['stat', '-c', '%i', join(d.dir, 'storage-pools', 'p1', 'containers', 'b2')]).out.trim(), '256', 'the container is a subvolume');
    t.comment(`launch times: dir ${dirMs.toFixed(0)} ms, btrfs first ${first.toFixed(0)} ms, btrfs cached ${second.toFixed(0)} ms`);
    t.equal(lxcAttach(d.dir, 'b2', ['cat', '/etc/hostname']).code, 0, 'the cloned container runs');

    const q = await d.cli(['launch', 'busybox', 'q1', '-s', 'p1', '-d', 'root,size=50MiB']);
    t.equal(q.code, 0, q.stderr);
    const dd = lxcAttach(d.dir, 'q1', ['dd', 'if=/dev/zero', 'of=/big', 'bs=1M', 'count=100', 'conv=fsync']);
    t.not(dd.code, 0, 'writing past the quota fails');
    t.match(dd.err, /Disk quota exceeded/, dd.err.trim());
    t.equal(lxcAttach(d.dir, 'q1', ['rm', '/big']).code, 0, 'the container is fine afterwards');

    const inUse = await rawRequest(d.socket, 'DELETE', '/1.0/storage-pools/p1');
    t.equal(inUse.status, 400, 'a pool with instances cannot be deleted');
    const res = await rawRequest(d.socket, 'GET', '/1.0/storage-pools/p1/resources');
    t.equal(res.status, 200);
    const space = (res.body.metadata as { space: { total: number; used: number } }).space;
    t.ok(space.total > 900 * 2 ** 20 && space.total <= 2 ** 30, `resources: ${JSON.stringify(space)}`);

    for (const n of names) t.equal((await d.cli(['delete', '-f', n])).code, 0);
    const del = await d.cli(['storage', 'delete', 'p1']);
    t.equal(del.code, 0, `the pool goes, cached image volume and all: ${del.stderr}`);
    t.notOk(existsSync(img), 'loop file removed');
    t.equal(sh(['losetup', '-j', img]).out.trim(), '', 'loop device detached');
  } finally {
    await cleanupPool(d, 'p1', names);
  }
});

t.test('btrfs driver snapshots: read-only, restore swaps subvolumes, quota kept', { skip: haveBtrfs ? false : 'no btrfs' }, async (t) => {
  const d = await withDaemon(t, { init: false });
  const { BtrfsDriver } = await import('../../lib/server/storage/drivers/btrfs');
  const drv = new BtrfsDriver();
  const mountPath = join(d.dir, 'storage-pools', 'p2');
  const spec = { name: 'p2', mountPath, config: drv.fillPoolConfig({ name: 'p2', mountPath, config: { size: '300MiB' } }) };
  try {
    await drv.createPool(spec);
    await drv.createVolume(spec, 'custom', 'v');
    const path = drv.volumePath(spec, 'custom', 'v');
    await drv.setVolumeQuota(spec, 'custom', 'v', 20 * 2 ** 20);
    sh(['sh', '-c', `echo one > ${path}/f`]);
    await drv.createSnapshot(spec, 'custom', 'v', 's1');
    const snap = drv.snapshotPath(spec, 'custom', 'v', 's1');
    t.not(sh(['sh', '-c', `echo x > ${snap}/f`]).code, 0, 'snapshots are read-only');
    sh(['sh', '-c', `echo two > ${path}/f`]);
    await drv.restoreSnapshot(spec, 'custom', 'v', 's1');
    t.equal(readFileSync(join(path, 'f'), 'utf8'), 'one\n', 'restored');
    t.equal(sh(['btrfs', 'property', 'get', '-ts', path, 'ro']).out.trim(), 'ro=false', 'the restored volume is writable');
    const over = sh(['dd', 'if=/dev/zero', `of=${path}/big`, 'bs=1M', 'count=40', 'conv=fsync']);
    t.match(over.out, /Disk quota exceeded/, 'the quota survived the restore');
    await drv.renameSnapshot(spec, 'custom', 'v', 's1', 's2');
    t.ok(existsSync(drv.snapshotPath(spec, 'custom', 'v', 's2')));
    await drv.deleteSnapshot(spec, 'custom', 'v', 's2');
    await drv.deleteVolume(spec, 'custom', 'v');
    t.notOk(existsSync(path));
  } finally {
    await drv.deletePool(spec).catch(() => undefined);
    const img = spec.config.source!;
    if (sh(['mountpoint', '-q', mountPath]).code === 0) sh(['umount', '-l', mountPath]);
    for (const line of sh(['losetup', '-j', img]).out.split('\n')) {
      const dev = line.split(':')[0]!.trim();
      if (dev.startsWith('/dev/loop')) sh(['losetup', '-d', dev]);
    }
    rmSync(img, { force: true });
  }
});

t.test('custom volume shared by two containers; in use cannot be deleted', async (t) => {
  const d = await withDaemon(t);
  const pool = ((await rawRequest(d.socket, 'GET', '/1.0/storage-pools')).body.metadata as string[])[0]!.split('/').pop()!;
  t.equal((await d.cli(['storage', 'volume', 'create', pool, 'shared'])).code, 0);
  const bad = await rawRequest(d.socket, 'POST', `/1.0/storage-pools/${pool}/volumes/custom`, JSON.stringify({ name: 'x', config: { bogus: '1' } }));
  t.equal(bad.status, 400, 'unknown volume key refused');
  t.match(String(bad.body.error), /bogus/);
  for (const n of ['s1', 's2']) {
    const l = await d.cli(['launch', 'busybox', n]);
    t.equal(l.code, 0, l.stderr);
    const a = await d.cli(['storage', 'volume', 'attach', pool, 'shared', n, '/data']);
    t.equal(a.code, 0, a.stderr);
  }
  t.equal(lxcAttach(d.dir, 's1', ['sh', '-c', 'echo hello > /data/f && ls -ln /data/f']).code, 0, 'written by s1');
  t.equal(lxcAttach(d.dir, 's2', ['cat', '/data/f']).out, 'hello\n', 'read by s2');
  t.match(lxcAttach(d.dir, 's2', ['ls', '-ln', '/data/f']).out, /\s0\s+0\s/, 'owned by root inside');

  const vol = await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}/volumes/custom/shared`);
  t.same((vol.body.metadata as { used_by: string[] }).used_by, ['/1.0/instances/s1', '/1.0/instances/s2']);
  const inUse = await rawRequest(d.socket, 'DELETE', `/1.0/storage-pools/${pool}/volumes/custom/shared`);
  t.equal(inUse.status, 400, 'in-use volume cannot be deleted');
  t.match(String(inUse.body.error), /in use/);

  for (const n of ['s1', 's2']) t.equal((await d.cli(['storage', 'volume', 'detach', pool, 'shared', n])).code, 0);
  t.not(lxcAttach(d.dir, 's1', ['test', '-e', '/data/f']).code, 0, 'detached live');
  t.equal((await d.cli(['storage', 'volume', 'set', pool, 'shared', 'user.note=kept'])).code, 0);
  t.equal((await d.cli(['storage', 'volume', 'get', pool, 'shared', 'user.note'])).stdout, 'kept\n');
  t.equal((await d.cli(['storage', 'volume', 'rename', pool, 'shared', 'renamed'])).code, 0);
  t.match((await d.cli(['storage', 'volume', 'list', pool, '-f', 'csv'])).stdout, /custom,renamed,/);
  const rm = await d.cli(['storage', 'volume', 'delete', pool, 'renamed']);
  t.equal(rm.code, 0, rm.stderr);
  for (const n of ['s1', 's2']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});

t.test('pool PUT/PATCH validate keys and keep source', async (t) => {
  const d = await withDaemon(t);
  const pool = ((await rawRequest(d.socket, 'GET', '/1.0/storage-pools')).body.metadata as string[])[0]!.split('/').pop()!;
  const before = (await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}`)).body.metadata as { config: Record<string, string> };
  t.equal((await d.cli(['storage', 'set', pool, 'user.a=b'])).code, 0);
  t.equal((await d.cli(['storage', 'get', pool, 'user.a'])).stdout, 'b\n');
  const bad = await rawRequest(d.socket, 'PATCH', `/1.0/storage-pools/${pool}`, JSON.stringify({ config: { nope: '1' } }));
  t.equal(bad.status, 400);
  const src = await rawRequest(d.socket, 'PATCH', `/1.0/storage-pools/${pool}`, JSON.stringify({ config: { source: '/elsewhere' } }));
  t.equal(src.status, 400, 'source cannot change');
  const put = await rawRequest(d.socket, 'PUT', `/1.0/storage-pools/${pool}`, JSON.stringify({ config: {}, description: 'd' }));
  t.equal(put.status, 200);
  const after = (await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}`)).body.metadata as { config: Record<string, string>; description: string };
  t.same(after.config, before.config, 'PUT with no config keeps the source');
  t.equal(after.description, 'd');
  t.match((await d.cli(['storage', 'info', pool])).stdout, /total_space:/);
});
