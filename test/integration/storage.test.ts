/**
 * Storage pools and volumes on real pools: a btrfs pool on a loop file the
 * daemon creates (optimized images, qgroup quotas), custom volumes shared
 * by two containers, pool PUT/PATCH and /resources. The loop device, mount
 * and file are this test's own and are removed even when a check fails.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** Volume snapshots through the CLI: create, list, restore, rename, delete; the volume goes with its snapshots. */
async function volumeSnapshotRoundTrip(t: Test, d: TestDaemon, pool: string): Promise<void> {
  const ok = async (args: string[]) => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `${args.join(' ')} ${r.stderr}`);
    return r.stdout;
  };
  await ok(['storage', 'volume', 'create', pool, 'sv', 'user.v=1']);
  const file = join(d.dir, 'storage-pools', pool, 'custom', 'default_sv', 'f');
  writeFileSync(file, 'one\n');
  await ok(['storage', 'volume', 'snapshot', 'create', pool, 'sv', 'first']);
  await ok(['storage', 'volume', 'snapshot', 'create', pool, 'sv']);
  t.match(await ok(['storage', 'volume', 'snapshot', 'list', pool, 'sv', '-f', 'csv']), /^first,.*\nsnap0,/m, 'named and pattern-named snapshots listed');
  writeFileSync(file, 'two\n');
  await ok(['storage', 'volume', 'set', pool, 'sv', 'user.v=2']);
  await ok(['storage', 'volume', 'snapshot', 'restore', pool, 'sv', 'first']);
  t.equal(readFileSync(file, 'utf8'), 'one\n', 'content restored');
  t.equal((await ok(['storage', 'volume', 'get', pool, 'sv', 'user.v'])).trim(), '1', 'config restored');
  await ok(['storage', 'volume', 'snapshot', 'rename', pool, 'sv', 'first', 'renamed']);
  await ok(['storage', 'volume', 'snapshot', 'delete', pool, 'sv', 'renamed']);
  t.match(await ok(['storage', 'volume', 'snapshot', 'list', pool, 'sv', '-f', 'csv']), /^snap0,[^\n]*\n$/, 'one snapshot left');
  t.equal(((await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}/volumes`)).body.metadata as string[]).filter((u) => u.includes('sv')).length, 1, 'snapshots are not listed as volumes');
  // A rename takes the snapshots along (rows and folders).
  await ok(['storage', 'volume', 'rename', pool, 'sv', 'sv2']);
  t.match(await ok(['storage', 'volume', 'snapshot', 'list', pool, 'sv2', '-f', 'csv']), /^snap0,[^\n]*\n$/, 'the snapshot follows the rename');
  t.ok(existsSync(join(d.dir, 'storage-pools', pool, 'custom-snapshots', 'default_sv2', 'snap0', 'f')), "the snapshot's content moved");
  t.notOk(existsSync(join(d.dir, 'storage-pools', pool, 'custom-snapshots', 'default_sv')), 'nothing left under the old name');
  await ok(['storage', 'volume', 'delete', pool, 'sv2']);
  t.notOk(existsSync(join(d.dir, 'storage-pools', pool, 'custom-snapshots', 'default_sv2', 'snap0')), 'snapshots removed with the volume');
}

t.test('btrfs pool on a loop file: optimized images, quotas, snapshots', { skip: haveBtrfs ? false : 'no btrfs (mkfs.btrfs or kernel support missing)' }, async (t) => {
  const d = await withDaemon(t);
  const names = ['b1', 'b2', 'q1', 'd1', 'd2'];
  try {
    const mk = await d.cli(['storage', 'create', 'p1', 'btrfs', 'size=1GiB']);
    t.equal(mk.code, 0, mk.stderr);
    const img = join(d.dir, 'disks', 'p1.img');
    t.ok(existsSync(img), 'the daemon made the loop file');
    t.equal(sh(['losetup', '-j', img]).out.split('\n').filter(Boolean).length, 1, 'one loop device attached');
    t.equal(sh(['stat', '-f', '-c', '%T', join(d.dir, 'storage-pools', 'p1')]).out.trim(), 'btrfs', 'mounted at the pool path');
    t.equal((await d.cli(['storage', 'get', 'p1', 'size'])).stdout.trim(), '1GiB');

    // Growing the pool grows its loop file, the loop device and the filesystem; shrinking is refused.
    const grown = await d.cli(['storage', 'set', 'p1', 'size=2GiB']);
    t.equal(grown.code, 0, `storage set size=2GiB ${grown.stderr}`);
    t.equal(sh(['stat', '-c', '%s', img]).out.trim(), String(2 * 1024 ** 3), 'the loop file is 2 GiB');
    const devSize = sh(['sh', '-c', `btrfs filesystem show --raw ${img} | awk '/devid/{print $4}'`]).out.trim();
    t.equal(devSize, String(2 * 1024 ** 3), 'the filesystem spans it');
    t.equal((await d.cli(['storage', 'get', 'p1', 'size'])).stdout.trim(), '2GiB', 'the new size recorded');
    const shrink = await d.cli(['storage', 'set', 'p1', 'size=1GiB']);
    t.not(shrink.code, 0, 'shrinking fails');
    t.match(shrink.stderr, /Pool cannot be shrunk/, shrink.stderr.trim());
    t.equal(sh(['stat', '-c', '%s', img]).out.trim(), String(2 * 1024 ** 3), 'and changes nothing');

    // A reboot: the daemon stops, the pool is unmounted and its loop detached; the next start mounts it again.
    t.equal((await d.cli(['storage', 'volume', 'create', 'p1', 'keep'])).code, 0);
    const keepFile = join(d.dir, 'storage-pools', 'p1', 'custom', 'default_keep', 'f');
    writeFileSync(keepFile, 'kept\n');
    await d.signal('SIGTERM');
    const mountPath = join(d.dir, 'storage-pools', 'p1');
    t.equal(sh(['umount', mountPath]).code, 0, 'unmounted while the daemon is down');
    for (const line of sh(['losetup', '-j', img]).out.split('\n').filter(Boolean)) sh(['losetup', '-d', line.split(':')[0]!]);
    await d.start();
    t.equal(sh(['stat', '-f', '-c', '%T', mountPath]).out.trim(), 'btrfs', 'remounted at daemon start');
    t.equal(readFileSync(keepFile, 'utf8'), 'kept\n', 'volume data intact');
    t.equal((await d.cli(['storage', 'volume', 'delete', 'p1', 'keep'])).code, 0);

    const dirMs = await timedLaunch(d, ['d1']);
    const first = await timedLaunch(d, ['b1', '-s', 'p1']);
    const vols = await rawRequest(d.socket, 'GET', '/1.0/storage-pools/p1/volumes/image');
    t.equal(vols.status, 200);
    const imageVols = vols.body.metadata as string[];
    t.equal(imageVols.length, 1, 'the image was unpacked once into an image volume');
    const fp = imageVols[0]!.split('/').pop()!;
    const imagePath = join(d.dir, 'storage-pools', 'p1', 'images', fp);
    const createdAt = sh(['stat', '-c', '%Z', imagePath]).out.trim();
    const dirWarm = await timedLaunch(d, ['d2']);
    const second = await timedLaunch(d, ['b2', '-s', 'p1']);
    t.equal(sh(['stat', '-c', '%Z', imagePath]).out.trim(), createdAt, 'the second launch reused the image volume');
    t.equal(((await rawRequest(d.socket, 'GET', '/1.0/storage-pools/p1/volumes/image')).body.metadata as string[]).length, 1);
    t.equal(sh(['stat', '-c', '%i', join(d.dir, 'storage-pools', 'p1', 'containers', 'b2')]).out.trim(), '256', 'the container is a subvolume');
    t.comment(`launch times: dir ${dirMs.toFixed(0)} ms then ${dirWarm.toFixed(0)} ms, btrfs first (unpack) ${first.toFixed(0)} ms, btrfs cached (snapshot) ${second.toFixed(0)} ms`);
    t.equal(lxcAttach(d.dir, 'b2', ['cat', '/etc/hostname']).code, 0, 'the cloned container runs');

    const q = await d.cli(['launch', 'busybox', 'q1', '-s', 'p1', '-d', 'root,size=50MiB']);
    t.equal(q.code, 0, `launch with a 50MiB root ${q.code === 0 ? '' : q.stderr}`);
    const dd = lxcAttach(d.dir, 'q1', ['dd', 'if=/dev/zero', 'of=/big', 'bs=1M', 'count=100', 'conv=fsync']);
    t.not(dd.code, 0, 'writing past the quota fails');
    t.match(dd.err, /Disk quota exceeded/, dd.err.trim());
    t.equal(lxcAttach(d.dir, 'q1', ['rm', '/big']).code, 0, 'the container is fine afterwards');
    const grow = await d.cli(['config', 'device', 'set', 'q1', 'root', 'size=200MiB']);
    t.equal(grow.code, 0, `root size raised live ${grow.stderr}`);
    const dd2 = lxcAttach(d.dir, 'q1', ['dd', 'if=/dev/zero', 'of=/big', 'bs=1M', 'count=100', 'conv=fsync']);
    t.equal(dd2.code, 0, `the same write fits the new quota ${dd2.err.trim()}`);
    // qgroups are counted at transaction commit: sync commits it.
    t.equal(lxcAttach(d.dir, 'q1', ['sync']).code, 0, 'sync');
    const disk = (await d.client.getInstanceState('q1')).disk?.root;
    t.equal(disk?.total, 200 * 1024 * 1024, "the state's root disk total is the size limit");
    t.ok((disk?.usage ?? 0) >= 100 * 1024 * 1024, `and its usage counts the 100 MiB written (${disk?.usage})`);
    const dirDisk = (await d.client.getInstanceState('d1')).disk?.root;
    t.same(dirDisk, { usage: -1, total: 0 }, 'a dir pool without project quotas reports usage -1, no total');

    await volumeSnapshotRoundTrip(t, d, 'p1');
    const inUse = await rawRequest(d.socket, 'DELETE', '/1.0/storage-pools/p1');
    t.equal(inUse.status, 400, 'a pool with instances cannot be deleted');
    const res = await rawRequest(d.socket, 'GET', '/1.0/storage-pools/p1/resources');
    t.equal(res.status, 200);
    const space = (res.body.metadata as { space: { total: number; used: number } }).space;
    t.ok(space.total > 1900 * 2 ** 20 && space.total <= 2 ** 31, `resources: ${JSON.stringify(space)}`);

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
    t.equal(l.code, 0, `launch ${n} ${l.code === 0 ? '' : l.stderr}`);
    const a = await d.cli(['storage', 'volume', 'attach', pool, 'shared', n, '/data']);
    t.equal(a.code, 0, `attach to ${n} ${a.stderr}`);
  }
  t.equal(lxcAttach(d.dir, 's1', ['sh', '-c', 'echo hello > /data/f && ls -ln /data/f']).code, 0, 'written by s1');
  t.equal(lxcAttach(d.dir, 's2', ['cat', '/data/f']).out, 'hello\n', 'read by s2');
  t.match(lxcAttach(d.dir, 's2', ['ls', '-ln', '/data/f']).out, /\s0\s+0\s/, 'owned by root inside');

  const vol = await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}/volumes/custom/shared`);
  t.same((vol.body.metadata as { used_by: string[] }).used_by, ['/1.0/instances/s1', '/1.0/instances/s2']);
  const twice = await d.cli(['storage', 'volume', 'attach', pool, 'shared', 's1', 'again', '/data']);
  t.not(twice.code, 0, 'a second disk at the same path is refused');
  t.match(twice.stderr, /More than one disk device uses the same path "\/data"/);
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
  const ed = await d.cli(['storage', 'edit', pool], 'config:\n  user.e: x\ndescription: via edit\n');
  t.equal(ed.code, 0, `storage edit from stdin ${ed.stderr}`);
  t.equal((await d.cli(['storage', 'get', pool, 'user.e'])).stdout, 'x\n');
  t.equal((await d.cli(['storage', 'volume', 'create', pool, 'ev'])).code, 0);
  const ved = await d.cli(['storage', 'volume', 'edit', pool, 'ev'], 'config:\n  user.f: y\ndescription: vol\n');
  t.equal(ved.code, 0, `storage volume edit from stdin ${ved.stderr}`);
  t.match((await d.cli(['storage', 'volume', 'show', pool, 'ev'])).stdout, /user\.f: y[\s\S]*description: vol/);
  const badEdit = await d.cli(['storage', 'volume', 'edit', pool, 'ev'], 'config:\n  nope: 1\n');
  t.not(badEdit.code, 0, 'an invalid edit is refused');
  t.equal((await d.cli(['storage', 'volume', 'delete', pool, 'ev'])).code, 0);
  // volume.* keys are the defaults a new volume takes (prefix stripped), unless it sets its own.
  t.equal((await d.cli(['storage', 'set', pool, 'volume.snapshots.expiry', '3d'])).code, 0);
  t.not((await d.cli(['storage', 'set', pool, 'volume.snapshots.expiry', 'soon'])).code, 0, 'a bad volume.* value is refused');
  t.equal((await d.cli(['storage', 'volume', 'create', pool, 'dv'])).code, 0);
  t.equal((await d.cli(['storage', 'volume', 'get', pool, 'dv', 'snapshots.expiry'])).stdout, '3d\n', 'the pool default copied');
  t.equal((await d.cli(['storage', 'volume', 'create', pool, 'ov', 'snapshots.expiry=1w'])).code, 0);
  t.equal((await d.cli(['storage', 'volume', 'get', pool, 'ov', 'snapshots.expiry'])).stdout, '1w\n', "the volume's own value kept");
  for (const v of ['dv', 'ov']) t.equal((await d.cli(['storage', 'volume', 'delete', pool, v])).code, 0);
  t.equal((await d.cli(['storage', 'unset', pool, 'volume.snapshots.expiry'])).code, 0);
  const del = await rawRequest(d.socket, 'DELETE', `/1.0/storage-pools/${pool}`);
  t.equal(del.status, 400, 'a pool the default profile uses cannot be deleted');
});

t.test('volume snapshots on dir', async (t) => {
  const d = await withDaemon(t);
  await volumeSnapshotRoundTrip(t, d, 'default');
});
