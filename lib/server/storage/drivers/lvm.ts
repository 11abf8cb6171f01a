/**
 * The `lvm` driver: a volume group with one thin pool, on a loop file the
 * daemon creates under $INCUS_DIR/disks/<pool>.img or on a block device
 * (`source`). Every volume is a thin LV formatted ext4 and kept mounted at
 * its volume path while the pool is up; snapshots are thin snapshots.
 * Needs device-mapper in the kernel. See lvcreate(8), lvremove(8), vgcreate(8).
 *
 * Block content (UNTESTED: no device-mapper on the machines this was
 * written on): a raw thin LV named as Incus names it, `<type>_<name>.block`
 * (snapshots `<type>_<name>-<snap>.block`). A VM has both: a small ext4 LV
 * mounted at its volume path for config/NVRAM and the `.block` LV as its
 * disk; a custom block volume has only the `.block` LV and an empty,
 * unmounted directory at its volume path.
 */
import { chmod, mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { badRequest } from '../../errors';
import { isCommonPoolKey } from '../pool-keys';
import { run } from '../../images/run';
import { unpackImage } from '../../images/unpack';
import { parseSize } from '../../instance/config/units';
import { contentTypeOf, DEFAULT_BLOCK_BYTES, isQcow2File, qcow2VirtualSize, roundBlockBytes, SHRINK_MESSAGE, sizeFromImage } from '../block-file';
import { type PoolSpec, type StorageDriver, type VolumeOptions, type VolumeType, SNAPSHOT_DIRS, VOLUME_DIRS } from '../interface';
import { ensurePoolDirs, ensureSnapshotParent, removeSnapshotParentIfEmpty, volumeDirMode } from '../modes';
import { childPath, ownDir, pathComponentProblem } from '../../names';
import { attachLoop, detachLoop, isMountPoint, loopsOf, umount } from './btrfs-tools';

const KNOWN_KEYS = new Set(['source', 'size', 'lvm.vg_name', 'lvm.thinpool_name', 'volume.size', 'rsync.compression']);
const THIN_POOL = 'IncusThinPool';
const DEFAULT_VOLUME_SIZE = '10GiB';
/** Incus's size of a VM's config filesystem (DefaultVMBlockFilesystemSize). */
const VM_FS_BYTES = 500 * 1024 ** 2;
/** Incus's suffix of a block-content LV (lvmBlockVolSuffix). */
const BLOCK_SUFFIX = '.block';

/** LVM tools quietly, without fd-leak warnings from the daemon's open fds. */
function lvm(cmd: string, args: string[]): Promise<Buffer> {
  process.env.LVM_SUPPRESS_FD_WARNINGS = '1';
  return run(cmd, args, { stdout: true });
}

/** LV names may not contain '/': Incus escapes '-' as '--' and joins with '_'. */
function lvName(type: VolumeType, name: string, snap?: string): string {
  const esc = (s: string) => s.replace(/-/g, '--');
  return `${type.replace(/-/g, '')}_${esc(name)}${snap ? `-${esc(snap)}` : ''}`;
}

export class LvmDriver implements StorageDriver {
  readonly info = {
    name: 'lvm',
    version: '1',
    optimizedImages: false,
    instantSnapshots: true,
    quotas: true,
    sendReceive: false,
    remote: false,
    optimizedBackups: false,
  };

  fillPoolConfig(pool: PoolSpec): Record<string, string> {
    for (const k of Object.keys(pool.config)) {
      if (!KNOWN_KEYS.has(k) && !isCommonPoolKey(k) && !k.startsWith('user.')) throw badRequest(`Invalid option for "lvm" driver: Unknown key "${k}"`);
    }
    const config = { ...pool.config };
    config['lvm.vg_name'] ||= pool.name;
    config['lvm.thinpool_name'] ||= THIN_POOL;
    config['volume.size'] ||= DEFAULT_VOLUME_SIZE;
    if (!config.source) {
      config.source = this.loopFile(pool);
      config.size ||= '5GiB';
    }
    if (config.size && (parseSize(config.size) ?? 0) <= 0) throw badRequest(`Invalid value for "size": "${config.size}" is not a size`);
    return config;
  }

  private loopFile(pool: PoolSpec): string {
    return childPath(join(dirname(dirname(pool.mountPath)), 'disks'), `${pool.name}.img`);
  }

  private vg(pool: PoolSpec): string {
    return pool.config['lvm.vg_name'] || pool.name;
  }

  private device(pool: PoolSpec, type: VolumeType, name: string, snap?: string): string {
    return `/dev/${this.vg(pool)}/${lvName(type, name, snap)}`;
  }

  /** The block device holding the volume group (a loop device for a loop file). */
  private async physical(pool: PoolSpec): Promise<string> {
    const source = pool.config.source!;
    if ((await stat(source)).isBlockDevice()) return source;
    return (await loopsOf(source))[0] ?? attachLoop(source);
  }

  async createPool(pool: PoolSpec): Promise<void> {
    const source = pool.config.source!;
    if (source === this.loopFile(pool)) {
      await mkdir(dirname(source), { recursive: true, mode: 0o700 });
      const fh = await open(source, 'wx', 0o600);
      try {
        await fh.truncate(parseSize(pool.config.size!)!);
      } finally {
        await fh.close();
      }
    }
    try {
      const pv = await this.physical(pool);
      await lvm('pvcreate', ['-f', pv]);
      await lvm('vgcreate', [this.vg(pool), pv]);
      await lvm('lvcreate', ['-y', '--type', 'thin-pool', '-l', '90%FREE', '-n', pool.config['lvm.thinpool_name']!, this.vg(pool)]);
      await ensurePoolDirs(pool.mountPath);
    } catch (err) {
      await this.deletePool(pool).catch(() => undefined);
      throw err;
    }
  }

  async deletePool(pool: PoolSpec): Promise<void> {
    await lvm('vgremove', ['-f', this.vg(pool)]).catch(() => undefined);
    const source = pool.config.source!;
    if (source === this.loopFile(pool)) {
      for (const dev of await loopsOf(source).catch(() => [])) {
        await lvm('pvremove', ['-f', dev]).catch(() => undefined);
        await detachLoop(dev);
      }
      await rm(source, { force: true });
    }
    await rm(ownDir(pool.mountPath), { recursive: true, force: true });
  }

  /** Attaches the loop file, activates the group and mounts every volume LV. */
  async mountPool(pool: PoolSpec): Promise<void> {
    await this.physical(pool);
    await lvm('vgchange', ['-ay', this.vg(pool)]);
    const names = (await lvm('lvs', ['--noheadings', '-o', 'lv_name', this.vg(pool)])).toString();
    for (const [type, dir] of Object.entries(VOLUME_DIRS) as [VolumeType, string][]) {
      const prefix = `${type.replace(/-/g, '')}_`;
      for (const lv of names.split('\n').map((l) => l.trim())) {
        // Snapshots (a lone '-') and block LVs (no filesystem) are not mounted here.
        if (!lv.startsWith(prefix) || lv.endsWith(BLOCK_SUFFIX) || /[^-]-[^-]/.test(lv.slice(prefix.length))) continue;
        const name = lv.slice(prefix.length).replace(/--/g, '-');
        // An LV someone else made whose name is no directory name: not ours to mount.
        if (pathComponentProblem(name) !== null) continue;
        const path = childPath(pool.mountPath, dir, name);
        if (!(await isMountPoint(path))) {
          await mkdir(path, { recursive: true });
          await run('mount', [`/dev/${this.vg(pool)}/${lv}`, path]);
        }
      }
    }
  }

  volumePath(pool: PoolSpec, type: VolumeType, name: string): string {
    return childPath(pool.mountPath, VOLUME_DIRS[type], name);
  }

  /** vg/thinpool, where every volume LV is carved from. */
  private thinPool(pool: PoolSpec): string {
    return `${this.vg(pool)}/${pool.config['lvm.thinpool_name'] || THIN_POOL}`;
  }

  /** Whether an LV of the pool's group exists (lvs exits non-zero for a missing one). */
  private async lvExists(pool: PoolSpec, lv: string): Promise<boolean> {
    return lvm('lvs', ['--noheadings', `${this.vg(pool)}/${lv}`]).then(
      () => true,
      () => false,
    );
  }

  /** Whether the volume has a `.block` LV (every VM; custom block volumes). */
  private hasBlock(pool: PoolSpec, type: VolumeType, name: string): Promise<boolean> {
    return this.lvExists(pool, lvName(type, name) + BLOCK_SUFFIX);
  }

  /** A thin LV of bytes (rounded up to 8 KiB) holding the volume's raw disk. UNTESTED. */
  private async createBlockLv(pool: PoolSpec, type: VolumeType, name: string, bytes: number): Promise<void> {
    await lvm('lvcreate', ['-y', '-n', lvName(type, name) + BLOCK_SUFFIX, '-V', `${roundBlockBytes(bytes)}b`, '--thinpool', this.thinPool(pool)]);
  }

  async createVolume(pool: PoolSpec, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void> {
    const block = contentTypeOf(type, opts) === 'block';
    const path = this.volumePath(pool, type, name);
    const blockBytes = opts?.size ?? DEFAULT_BLOCK_BYTES;
    if (block && type !== 'virtual-machine') {
      // A custom (or image) block volume: the raw LV alone, and a directory nothing is mounted on.
      await this.createBlockLv(pool, type, name, blockBytes);
      await mkdir(path, { recursive: true, mode: 0o711 }).catch(async (err) => {
        await this.deleteVolume(pool, type, name).catch(() => undefined);
        throw err;
      });
      return;
    }
    const bytes = type === 'virtual-machine' ? VM_FS_BYTES : (opts?.size ?? parseSize(pool.config['volume.size'] || DEFAULT_VOLUME_SIZE)!);
    await lvm('lvcreate', ['-y', '-n', lvName(type, name), '-V', `${bytes}b`, '--thinpool', this.thinPool(pool)]);
    const dev = this.device(pool, type, name);
    try {
      if (block) await this.createBlockLv(pool, type, name, blockBytes);
      await run('mkfs.ext4', ['-q', '-F', dev]);
      await mkdir(path, { recursive: true, mode: 0o711 });
      await run('mount', [dev, path]);
      // The mounted filesystem's root is the volume's directory now.
      await chmod(path, volumeDirMode(type));
      if (type === 'container') await mkdir(join(path, 'rootfs'), { mode: 0o755 });
    } catch (err) {
      await this.deleteVolume(pool, type, name).catch(() => undefined);
      throw err;
    }
  }

  async createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string, opts?: VolumeOptions): Promise<void> {
    if (rootfsFile && (await isQcow2File(rootfsFile))) return this.createVmVolumeFromImage(pool, type, name, imageFile, rootfsFile, opts);
    if (type === 'virtual-machine') throw badRequest(`Requested image's type "container" doesn't match instance type "virtual-machine"`);
    await this.createVolume(pool, type, name);
    const path = this.volumePath(pool, type, name);
    await rm(join(path, 'rootfs'), { recursive: true, force: true });
    await unpackImage(imageFile, path, rootfsFile);
  }

  /**
   * UNTESTED. A VM (or VM image) volume from a split VM image: metadata into
   * the config filesystem LV, the qcow2 converted straight onto the `.block`
   * LV (qemu-img -n: the target exists), sized opts.size (400 when the
   * image is larger); an image volume's LV is the image's own size.
   */
  private async createVmVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile: string, opts?: VolumeOptions): Promise<void> {
    if (type === 'container') throw badRequest(`Requested image's type "virtual-machine" doesn't match instance type "container"`);
    const imageBytes = roundBlockBytes(await qcow2VirtualSize(rootfsFile));
    const bytes = type === 'image' ? imageBytes : sizeFromImage(imageBytes, opts?.size);
    // An image volume holds config as a VM does, so it is made as one and named as an image.
    await this.createVolume(pool, type, name, { size: bytes, contentType: 'block' });
    try {
      if (type === 'image') {
        await this.addConfigLv(pool, type, name);
      }
      await unpackImage(imageFile, this.volumePath(pool, type, name));
      await run('qemu-img', ['convert', '-n', '-f', 'qcow2', '-O', 'raw', '-t', 'writeback', rootfsFile, this.blockPath(pool, type, name)]);
    } catch (err) {
      await this.deleteVolume(pool, type, name).catch(() => undefined);
      throw err;
    }
  }

  /** UNTESTED. Gives a block-only volume (an image volume of a VM image) the config filesystem LV a VM has. */
  private async addConfigLv(pool: PoolSpec, type: VolumeType, name: string): Promise<void> {
    const dev = this.device(pool, type, name);
    await lvm('lvcreate', ['-y', '-n', lvName(type, name), '-V', `${VM_FS_BYTES}b`, '--thinpool', this.thinPool(pool)]);
    await run('mkfs.ext4', ['-q', '-F', dev]);
    await run('mount', [dev, this.volumePath(pool, type, name)]);
  }

  blockPath(pool: PoolSpec, type: VolumeType, name: string): string {
    return this.device(pool, type, name) + BLOCK_SUFFIX;
  }

  /** UNTESTED. Grows the `.block` LV (no filesystem to grow with it); 400 on a shrink. */
  async resizeBlockVolume(pool: PoolSpec, type: VolumeType, name: string, bytes: number): Promise<void> {
    const dev = this.blockPath(pool, type, name);
    const have = Number((await lvm('lvs', ['--noheadings', '--units', 'b', '--nosuffix', '-o', 'lv_size', dev])).toString().trim());
    const want = roundBlockBytes(bytes);
    if (want === have) return;
    if (want < have) throw badRequest(SHRINK_MESSAGE);
    await lvm('lvresize', ['-f', '-L', `${want}b`, dev]);
  }

  async deleteVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    if (await isMountPoint(path)) await umount(path);
    for (const dev of [this.device(pool, type, name), this.blockPath(pool, type, name)]) {
      await lvm('lvremove', ['-f', dev]).catch((err: Error) => {
        if (!/not found|Failed to find/.test(err.message)) throw err;
      });
    }
    await rm(path, { recursive: true, force: true });
  }

  async renameVolume(pool: PoolSpec, type: VolumeType, from: string, to: string): Promise<void> {
    const src = this.volumePath(pool, type, from);
    const dst = this.volumePath(pool, type, to);
    const block = await this.hasBlock(pool, type, from);
    const fs = await this.lvExists(pool, lvName(type, from));
    if (block) await lvm('lvrename', [this.vg(pool), lvName(type, from) + BLOCK_SUFFIX, lvName(type, to) + BLOCK_SUFFIX]);
    await mkdir(dst, { recursive: true, mode: 0o711 });
    if (fs) {
      await umount(src);
      await lvm('lvrename', [this.vg(pool), lvName(type, from), lvName(type, to)]);
      await run('mount', [this.device(pool, type, to), dst]);
    }
    await rm(src, { recursive: true, force: true });
  }

  async setVolumeQuota(pool: PoolSpec, type: VolumeType, name: string, bytes: number | null): Promise<void> {
    if (bytes === null) return;
    if (await this.hasBlock(pool, type, name)) return this.resizeBlockVolume(pool, type, name, bytes);
    await lvm('lvresize', ['-r', '-f', '-L', `${bytes}b`, this.device(pool, type, name)]);
  }

  snapshotPath(pool: PoolSpec, type: VolumeType, name: string, snap: string): string {
    return childPath(pool.mountPath, SNAPSHOT_DIRS[type], name, snap);
  }

  /** Thin snapshots of the filesystem LV (mounted read-only) and of the `.block` LV where there is one (block part UNTESTED). */
  async createSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.snapshotPath(pool, type, name, snap);
    await ensureSnapshotParent(pool.mountPath, type, name);
    await mkdir(path, { recursive: true, mode: 0o711 });
    if (await this.hasBlock(pool, type, name)) {
      await lvm('lvcreate', ['-y', '-s', '-kn', '-n', lvName(type, name, snap) + BLOCK_SUFFIX, `${this.vg(pool)}/${lvName(type, name)}${BLOCK_SUFFIX}`]);
    }
    if (!(await this.lvExists(pool, lvName(type, name)))) return;
    await lvm('lvcreate', ['-y', '-s', '-kn', '-n', lvName(type, name, snap), `${this.vg(pool)}/${lvName(type, name)}`]);
    await run('mount', ['-o', 'ro,noload', this.device(pool, type, name, snap), path]);
  }

  async deleteSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.snapshotPath(pool, type, name, snap);
    if (await isMountPoint(path)) await umount(path);
    for (const lv of [lvName(type, name, snap), lvName(type, name, snap) + BLOCK_SUFFIX]) {
      if (await this.lvExists(pool, lv)) await lvm('lvremove', ['-f', `${this.vg(pool)}/${lv}`]);
    }
    await rm(path, { recursive: true, force: true });
    await removeSnapshotParentIfEmpty(pool.mountPath, type, name);
  }

  async renameSnapshot(pool: PoolSpec, type: VolumeType, name: string, from: string, to: string): Promise<void> {
    const src = this.snapshotPath(pool, type, name, from);
    const dst = this.snapshotPath(pool, type, name, to);
    if (await isMountPoint(src)) await umount(src);
    if (await this.lvExists(pool, lvName(type, name, from) + BLOCK_SUFFIX)) {
      await lvm('lvrename', [this.vg(pool), lvName(type, name, from) + BLOCK_SUFFIX, lvName(type, name, to) + BLOCK_SUFFIX]);
    }
    await mkdir(dst, { recursive: true, mode: 0o711 });
    if (await this.lvExists(pool, lvName(type, name, from))) {
      await lvm('lvrename', [this.vg(pool), lvName(type, name, from), lvName(type, name, to)]);
      await run('mount', ['-o', 'ro,noload', this.device(pool, type, name, to), dst]);
    }
    await rm(src, { recursive: true, force: true });
  }

  /** Replaces the volume's LVs (filesystem, and `.block` where there is one: UNTESTED) by thin snapshots of the snapshot's. */
  async restoreSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    const vg = this.vg(pool);
    const parts = [''];
    if (await this.hasBlock(pool, type, name)) parts.push(BLOCK_SUFFIX);
    if (!(await this.lvExists(pool, lvName(type, name)))) parts.shift();
    for (const suffix of parts) {
      const tmp = `${lvName(type, name)}-restore${suffix}`;
      await lvm('lvcreate', ['-y', '-s', '-kn', '-n', tmp, `${vg}/${lvName(type, name, snap)}${suffix}`]);
      await lvm('lvchange', ['-ay', `${vg}/${tmp}`]);
      if (suffix === '' && (await isMountPoint(path))) await umount(path);
      await lvm('lvremove', ['-f', `${this.device(pool, type, name)}${suffix}`]);
      await lvm('lvrename', [vg, tmp, lvName(type, name) + suffix]);
      if (suffix === '') await run('mount', [this.device(pool, type, name), path]);
    }
  }
}
