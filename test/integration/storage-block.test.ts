/**
 * Block volumes on `dir` and on a loop `btrfs` pool: custom block volumes
 * through the CLI and API (sparse root.img of the asked size, grow, shrink
 * refused, snapshot/restore by content at an offset, copy within and across
 * pools, rename, delete, content type shown), and VM volumes through the
 * storage driver directly (the instance layer wires VMs separately): a
 * qcow2 image cached as a raw block image volume, cloned and grown, its
 * content checked with `qemu-img compare`. The btrfs pool's mount, loop
 * device and file are this test's own and go even when a check fails.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import type { PoolSpec, StorageDriver } from '../../lib/server/storage/interface';

const MiB = 1024 ** 2;
const haveBtrfs = spawnSync('mkfs.btrfs', ['--version']).status === 0 && readFileSync('/proc/filesystems', 'utf8').includes('btrfs');
const haveQemuImg = spawnSync('qemu-img', ['--version']).status === 0;

function sh(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Writes text at a byte offset of a file, in place. */
function writeAt(path: string, offset: number, text: string): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from(text), 0, text.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Reads len bytes at offset as text. */
function readAt(path: string, offset: number, len: number): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, offset);
    return buf.toString();
  } finally {
    closeSync(fd);
  }
}

/** Bytes actually allocated to a file. */
const allocated = (path: string) => statSync(path).blocks * 512;

/** Deletes the pool through the daemon, then whatever of its mount, loop devices and file is left. */
async function cleanupPool(d: TestDaemon, pool: string): Promise<void> {
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

/** Custom block volumes through the CLI and API on one pool. */
async function customBlockVolumes(t: Test, d: TestDaemon, pool: string): Promise<void> {
  const ok = async (args: string[]) => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `${args.join(' ')} ${r.stderr}`);
    return r.stdout;
  };
  const root = join(d.dir, 'storage-pools', pool);
  const disk = (name: string) => join(root, 'custom', `default_${name}`, 'root.img');

  await ok(['storage', 'volume', 'create', pool, 'blk', '--type=block', 'size=64MiB']);
  t.equal(statSync(disk('blk')).size, 64 * MiB, 'root.img has the asked size');
  t.ok(allocated(disk('blk')) < MiB, `root.img is sparse (${allocated(disk('blk'))} bytes allocated)`);
  const got = await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}/volumes/custom/blk`);
  t.equal((got.body.metadata as { content_type: string }).content_type, 'block', 'API shows content_type block');
  t.match(await ok(['storage', 'volume', 'list', pool, '-f', 'csv']), /^custom,blk,,block,0$/m, 'list shows the content type');

  await ok(['storage', 'volume', 'set', pool, 'blk', 'size=128MiB']);
  t.equal(statSync(disk('blk')).size, 128 * MiB, 'size grows the disk');
  const shrink = await rawRequest(d.socket, 'PATCH', `/1.0/storage-pools/${pool}/volumes/custom/blk`, JSON.stringify({ config: { size: '32MiB' } }));
  t.equal(shrink.status, 400, 'shrink refused with 400');
  t.match(String(shrink.body.error), /Block volumes cannot be shrunk/, String(shrink.body.error));
  t.equal(statSync(disk('blk')).size, 128 * MiB, 'the disk kept its size');
  t.equal((await ok(['storage', 'volume', 'get', pool, 'blk', 'size'])).trim(), '128MiB', 'config kept the grown size');

  const wrongKey = await rawRequest(d.socket, 'POST', `/1.0/storage-pools/${pool}/volumes/custom`, JSON.stringify({ name: 'bad', content_type: 'block', config: { 'security.shifted': 'true' } }));
  t.equal(wrongKey.status, 400, 'filesystem-only key on a block volume: 400');
  t.match(String(wrongKey.body.error), /security\.shifted/, String(wrongKey.body.error));
  const wrongKey2 = await rawRequest(d.socket, 'POST', `/1.0/storage-pools/${pool}/volumes/custom`, JSON.stringify({ name: 'bad', config: { 'security.shared': 'true' } }));
  t.equal(wrongKey2.status, 400, 'block-only key on a filesystem volume: 400');
  t.match(String(wrongKey2.body.error), /security\.shared/, String(wrongKey2.body.error));
  t.notOk(existsSync(join(root, 'custom', 'default_bad')), 'nothing left by the refused creates');

  // Snapshot and restore, checked by content at an offset past the first megabytes.
  const at = 10 * MiB + 17;
  writeAt(disk('blk'), at, 'AAAA');
  await ok(['storage', 'volume', 'snapshot', 'create', pool, 'blk', 's1']);
  t.ok(existsSync(join(root, 'custom-snapshots', 'default_blk', 's1', 'root.img')), 'the snapshot holds root.img');
  writeAt(disk('blk'), at, 'BBBB');
  await ok(['storage', 'volume', 'snapshot', 'restore', pool, 'blk', 's1']);
  t.equal(readAt(disk('blk'), at, 4), 'AAAA', 'restore brought back the snapshot content');
  t.equal(statSync(disk('blk')).size, 128 * MiB, 'restored disk has its size');
  t.ok(allocated(disk('blk')) < 2 * MiB, `restored disk is still sparse (${allocated(disk('blk'))} bytes)`);

  await ok(['storage', 'volume', 'copy', `${pool}/blk`, `${pool}/blkcopy`]);
  t.equal(readAt(disk('blkcopy'), at, 4), 'AAAA', 'the copy has the content');
  t.equal(statSync(disk('blkcopy')).size, 128 * MiB, 'the copy has the size');
  t.ok(allocated(disk('blkcopy')) < 2 * MiB, 'the copy is sparse');
  const copied = await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}/volumes/custom/blkcopy`);
  t.equal((copied.body.metadata as { content_type: string }).content_type, 'block', 'the copy is a block volume');
  await ok(['storage', 'volume', 'rename', pool, 'blkcopy', 'blkren']);
  t.notOk(existsSync(disk('blkcopy')), 'renamed away');
  t.equal(readAt(disk('blkren'), at, 4), 'AAAA', 'renamed volume keeps its content');

  // One un-shared block volume per instance: two guests writing one disk would corrupt it.
  await ok(['create', '--empty', '--vm', 'bv1', '-s', pool]);
  await ok(['create', '--empty', '--vm', 'bv2', '-s', pool]);
  await ok(['config', 'device', 'add', 'bv1', 'data', 'disk', `pool=${pool}`, 'source=blk']);
  const second = await rawRequest(d.socket, 'PATCH', '/1.0/instances/bv2', JSON.stringify({ devices: { data: { type: 'disk', pool, source: 'blk' } } }));
  t.equal(second.status, 400, 'the same block volume on a second instance: 400');
  t.match(String(second.body.error), /Cannot add un-shared custom storage block volume to more than one instance/, String(second.body.error));
  const bv2 = (await rawRequest(d.socket, 'GET', '/1.0/instances/bv2')).body.metadata as { devices: Record<string, unknown> };
  t.notOk(bv2.devices.data, 'the refused device was not stored');
  await ok(['storage', 'volume', 'set', pool, 'blk', 'security.shared=true']);
  await ok(['config', 'device', 'add', 'bv2', 'data', 'disk', `pool=${pool}`, 'source=blk']);
  await ok(['delete', 'bv1', 'bv2']);

  await ok(['storage', 'volume', 'delete', pool, 'blk']);
  await ok(['storage', 'volume', 'delete', pool, 'blkren']);
  t.equal(sh(['find', root, '-name', 'root.img']).out.trim(), '', 'delete leaves no disk behind (snapshots included)');
}

/** A small VM image: a metadata tarball and a qcow2 disk with markers at known offsets. */
function makeVmImage(dir: string): { meta: string; qcow2: string; unified: string } {
  writeFileSync(join(dir, 'metadata.yaml'), 'architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n');
  const meta = join(dir, 'meta.tar');
  sh(['tar', '-cf', meta, '-C', dir, 'metadata.yaml']);
  const raw = join(dir, 'disk.raw');
  sh(['truncate', '-s', '40M', raw]);
  writeAt(raw, 0, 'BOOT');
  writeAt(raw, 33 * MiB + 5, 'TAIL');
  const qcow2 = join(dir, 'disk.qcow2');
  const r = sh(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  if (r.code !== 0) throw new Error(r.out);
  // A unified VM tarball: metadata.yaml and the disk as its rootfs.img member.
  sh(['cp', qcow2, join(dir, 'rootfs.img')]);
  const unified = join(dir, 'unified.tar');
  sh(['tar', '-cf', unified, '-C', dir, 'metadata.yaml', 'rootfs.img']);
  return { meta, qcow2, unified };
}

/** Whether a promise rejects with a 400 whose message matches re. */
async function rejects400(t: Test, p: Promise<unknown>, re: RegExp, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: no error`);
  } catch (err) {
    t.equal((err as { status?: number }).status, 400, `${what}: 400`);
    t.match(String((err as Error).message), re, `${what}: ${(err as Error).message}`);
  }
}

/** VM volumes through the storage driver directly, on the daemon's pool (its own names, removed at the end). */
async function vmVolumes(t: Test, d: TestDaemon, pool: string, sd: StorageDriver): Promise<void> {
  const cfg = (await rawRequest(d.socket, 'GET', `/1.0/storage-pools/${pool}`)).body.metadata as { config: Record<string, string> };
  const spec: PoolSpec = { name: pool, config: cfg.config, mountPath: join(d.dir, 'storage-pools', pool) };
  const work = mkdtempSync(join(tmpdir(), 'block-img-'));
  const fp = 'f'.repeat(64);
  try {
    const { meta, qcow2, unified } = makeVmImage(work);
    const compare = (disk: string) => sh(['qemu-img', 'compare', '-f', 'raw', '-F', 'qcow2', disk, qcow2]);

    // The image volume: the qcow2 converted to raw once, at the image's own size.
    await sd.createVolumeFromImage(spec, 'image', fp, meta, qcow2);
    const imgDisk = sd.blockPath(spec, 'image', fp);
    t.equal(imgDisk, join(spec.mountPath, 'images', fp, 'root.img'), 'blockPath is <volume>/root.img');
    t.equal(statSync(imgDisk).size, 40 * MiB, 'image volume disk has the image size');
    t.ok(existsSync(join(spec.mountPath, 'images', fp, 'metadata.yaml')), 'image metadata unpacked beside the disk');
    t.equal(compare(imgDisk).code, 0, `raw image volume matches the qcow2 ${compare(imgDisk).out}`);

    // A VM volume cloned from it and grown; one asking less than the image is refused.
    await sd.cloneVolume!(spec, 'image', fp, 'virtual-machine', 'vm1', { size: 96 * MiB });
    const vm1 = sd.blockPath(spec, 'virtual-machine', 'vm1');
    t.equal(statSync(vm1).size, 96 * MiB, 'clone grown to the asked size');
    t.equal(compare(vm1).code, 0, 'clone content matches the image (grown part zero)');
    t.equal(readAt(vm1, 33 * MiB + 5, 4), 'TAIL', 'marker at its offset');
    t.ok(existsSync(join(spec.mountPath, 'virtual-machines', 'vm1', 'metadata.yaml')), 'the VM filesystem volume came along');
    await rejects400(t, sd.cloneVolume!(spec, 'image', fp, 'virtual-machine', 'small', { size: 16 * MiB }), /Source image size \(\d+\) exceeds specified volume size/, 'clone smaller than the image');
    t.notOk(existsSync(join(spec.mountPath, 'virtual-machines', 'small')), 'the refused clone left nothing');

    // From the image files straight (no cache): default 10GiB, sparse.
    await sd.createVolumeFromImage(spec, 'virtual-machine', 'vm2', meta, qcow2);
    const vm2 = sd.blockPath(spec, 'virtual-machine', 'vm2');
    t.equal(statSync(vm2).size, 10 * 1024 * MiB, 'default VM disk size is 10GiB');
    t.ok(allocated(vm2) < 45 * MiB, `VM disk is sparse (${allocated(vm2)} bytes)`);
    t.equal(compare(vm2).code, 0, 'direct VM volume matches the image');
    await rejects400(t, sd.createVolumeFromImage(spec, 'container', 'c-from-vm', meta, qcow2), /doesn't match instance type "container"/, 'a VM image for a container');
    t.notOk(existsSync(join(spec.mountPath, 'containers', 'c-from-vm')), 'the refused container volume left nothing');
    await sd.createVolumeFromImage(spec, 'virtual-machine', 'vm4', unified, undefined, { size: 64 * MiB });
    const vm4 = sd.blockPath(spec, 'virtual-machine', 'vm4');
    t.equal(statSync(vm4).size, 64 * MiB, 'unified VM image: disk of the asked size');
    t.equal(compare(vm4).code, 0, 'unified VM image: content matches');
    t.notOk(existsSync(join(spec.mountPath, 'virtual-machines', 'vm4', 'rootfs.img')), 'the qcow2 member is not kept');

    // Empty VM volume: the disk only, sized.
    await sd.createVolume(spec, 'virtual-machine', 'vm3', { size: 5 * MiB + 1 });
    t.equal(statSync(sd.blockPath(spec, 'virtual-machine', 'vm3')).size, 5 * MiB + 8192, 'size rounded up to 8KiB');

    // Grow, and a shrink refused.
    await sd.resizeBlockVolume(spec, 'virtual-machine', 'vm1', 128 * MiB);
    t.equal(statSync(vm1).size, 128 * MiB, 'resize grows');
    await rejects400(t, sd.resizeBlockVolume(spec, 'virtual-machine', 'vm1', 64 * MiB), /^Block volumes cannot be shrunk: Cannot be shrunk$/, 'shrink');
    t.equal(statSync(vm1).size, 128 * MiB, 'shrink left the size');

    // Snapshot, overwrite, restore; a copy of the volume keeps the disk.
    await sd.createSnapshot(spec, 'virtual-machine', 'vm1', 'snap0');
    writeAt(vm1, 33 * MiB + 5, 'XXXX');
    await sd.restoreSnapshot(spec, 'virtual-machine', 'vm1', 'snap0');
    t.equal(readAt(vm1, 33 * MiB + 5, 4), 'TAIL', 'restore brings the disk back');
    t.equal(compare(vm1).code, 0, 'restored disk matches the image again');
    const copyPath = sd.volumePath(spec, 'virtual-machine', 'vm1copy');
    await sd.copyVolume!(spec, sd.volumePath(spec, 'virtual-machine', 'vm1'), copyPath, false);
    t.equal(compare(join(copyPath, 'root.img')).code, 0, 'copied VM volume matches');
    t.ok(allocated(join(copyPath, 'root.img')) < 45 * MiB, 'copied disk is sparse');

    if (sd.info.name === 'btrfs') {
      t.match(sh(['lsattr', '-d', sd.volumePath(spec, 'virtual-machine', 'vm1')]).out, /^\S*C\S*\s/, 'nodatacow on the VM subvolume');
      t.match(sh(['lsattr', vm2]).out, /^\S*C\S*\s/, 'the disk inherited nodatacow');
      await sd.setVolumeQuota!(spec, 'virtual-machine', 'vm2', 11 * 1024 * MiB);
      t.equal(statSync(vm2).size, 11 * 1024 * MiB, 'a quota on a VM volume grows its disk');
    }

    await sd.deleteSnapshot(spec, 'virtual-machine', 'vm1', 'snap0');
    for (const n of ['vm1', 'vm2', 'vm3', 'vm4', 'vm1copy']) await sd.deleteVolume(spec, 'virtual-machine', n);
    await sd.deleteVolume(spec, 'image', fp);
    t.equal(sh(['find', spec.mountPath, '-name', 'root.img']).out.trim(), '', 'no disk left behind');
  } finally {
    for (const n of ['vm1', 'vm2', 'vm3', 'vm1copy', 'small']) await sd.deleteSnapshot(spec, 'virtual-machine', n, 'snap0').catch(() => undefined);
    for (const n of ['vm1', 'vm2', 'vm3', 'vm4', 'vm1copy', 'small']) await sd.deleteVolume(spec, 'virtual-machine', n).catch(() => undefined);
    await sd.deleteVolume(spec, 'container', 'c-from-vm').catch(() => undefined);
    await sd.deleteVolume(spec, 'image', fp).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

t.test('block volumes on a dir pool', async (t) => {
  const d = await withDaemon(t, { init: false });
  const mk = await d.cli(['storage', 'create', 'bd', 'dir']);
  t.equal(mk.code, 0, mk.stderr);
  await customBlockVolumes(t, d, 'bd');
  if (haveQemuImg) {
    const { DirDriver } = await import('../../lib/server/storage/drivers/dir');
    await vmVolumes(t, d, 'bd', new DirDriver());
  } else t.pass('skipped: no qemu-img', { skip: true });
});

t.test('block volumes on a loop btrfs pool', { skip: haveBtrfs ? false : 'no btrfs (mkfs.btrfs or kernel support missing)' }, async (t) => {
  const d = await withDaemon(t, { init: false });
  try {
    const mk = await d.cli(['storage', 'create', 'bb', 'btrfs', 'size=2GiB']);
    t.equal(mk.code, 0, mk.stderr);
    await customBlockVolumes(t, d, 'bb');
    if (haveQemuImg) {
      const { BtrfsDriver } = await import('../../lib/server/storage/drivers/btrfs');
      await vmVolumes(t, d, 'bb', new BtrfsDriver());
    }

    // Across pools (rsync): dir to btrfs keeps content, size, holes and the content type.
    t.equal((await d.cli(['storage', 'create', 'bd', 'dir'])).code, 0);
    t.equal((await d.cli(['storage', 'volume', 'create', 'bd', 'x', '--type=block', 'size=32MiB'])).code, 0);
    writeAt(join(d.dir, 'storage-pools', 'bd', 'custom', 'default_x', 'root.img'), 20 * MiB, 'XPOOL');
    const cp = await d.cli(['storage', 'volume', 'copy', 'bd/x', 'bb/x']);
    t.equal(cp.code, 0, cp.stderr);
    const moved = join(d.dir, 'storage-pools', 'bb', 'custom', 'default_x', 'root.img');
    t.equal(readAt(moved, 20 * MiB, 5), 'XPOOL', 'content copied across pools');
    t.equal(statSync(moved).size, 32 * MiB, 'size copied across pools');
    t.ok(allocated(moved) < 2 * MiB, `holes kept across pools (${allocated(moved)} bytes)`);
    const v = await rawRequest(d.socket, 'GET', '/1.0/storage-pools/bb/volumes/custom/x');
    t.equal((v.body.metadata as { content_type: string }).content_type, 'block');
    t.equal((await d.cli(['storage', 'volume', 'delete', 'bb', 'x'])).code, 0);
    t.equal((await d.cli(['storage', 'volume', 'delete', 'bd', 'x'])).code, 0);
  } finally {
    await cleanupPool(d, 'bb');
  }
});
