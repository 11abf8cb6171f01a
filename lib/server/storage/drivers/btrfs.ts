/**
 * The `btrfs` driver: one subvolume per volume, read-only subvolume
 * snapshots, images unpacked once into an image subvolume and cloned by
 * snapshot, root disk sizes as qgroup limits on referenced bytes. A block
 * volume (a VM's root disk, a custom block volume) is a sparse `root.img`
 * in its subvolume, nodatacow as Incus makes it (no CoW fragmentation, no
 * old extents counted against the qgroup), so snapshots and clones of it
 * are subvolume snapshots too.
 *
 * The pool lives on a loop file the daemon creates under
 * $INCUS_DIR/disks/<pool>.img (no `source`), on a block device (`source`
 * is a device: formatted on create), or on an existing directory of a
 * btrfs filesystem (`source` is a directory: bind-mounted). In all cases
 * it is mounted at $INCUS_DIR/storage-pools/<pool>.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, open, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { badRequest } from '../../errors';
import { isCommonPoolKey } from '../pool-keys';
import { run } from '../../images/run';
import { parseSize } from '../../instance/config/units';
import { BLOCK_FILE, blockFileSize, contentTypeOf, createSparseFile, DEFAULT_BLOCK_BYTES, fillFromImage, growAfterClone, resizeBlockFile } from '../block-file';
import { type BackupSink, type BackupSource, type OptimizedBackupFiles, type PoolSpec, type StorageDriver, type VolumeOptions, type VolumeType, SNAPSHOT_DIRS, VOLUME_DIRS } from '../interface';
import { ensurePoolDirs, ensureSnapshotParent, removeSnapshotParentIfEmpty, mkdirMode, SNAPSHOT_PARENT_MODE, volumeDirMode } from '../modes';
import { childPath, ownDir } from '../../names';
import { Reverter } from '../../revert';
import { backupBtrfs, restoreBtrfs } from './btrfs-backup';
import type { SubvolumePaths } from './btrfs-stream';
import * as bt from './btrfs-tools';

const KNOWN_KEYS = new Set(['source', 'size', 'btrfs.mount_options', 'rsync.compression']);
const DEFAULT_LOOP_SIZE = '5GiB';
const DEFAULT_MOUNT_OPTIONS = 'user_subvol_rm_allowed';

type SourceKind = 'loop' | 'device' | 'dir';

/** What backs the pool, from what `source` is on the host. */
async function sourceKind(source: string): Promise<SourceKind> {
  const st = await stat(source);
  if (st.isFile()) return 'loop';
  if (st.isBlockDevice()) return 'device';
  if (st.isDirectory()) return 'dir';
  throw badRequest(`Invalid option "source": "${source}" is not a file, block device or directory`);
}

/** The loop file the daemon makes for a pool without `source`: $INCUS_DIR/disks/<pool>.img. */
function loopFileOf(pool: PoolSpec): string {
  return childPath(join(dirname(dirname(pool.mountPath)), 'disks'), `${pool.name}.img`);
}

export class BtrfsDriver implements StorageDriver {
  readonly info = {
    name: 'btrfs',
    version: '1',
    optimizedImages: true,
    instantSnapshots: true,
    quotas: true,
    sendReceive: true,
    remote: false,
    optimizedBackups: true,
  };

  fillPoolConfig(pool: PoolSpec): Record<string, string> {
    for (const k of Object.keys(pool.config)) {
      if (!KNOWN_KEYS.has(k) && !isCommonPoolKey(k) && !k.startsWith('user.')) throw badRequest(`Invalid option for "btrfs" driver: Unknown key "${k}"`);
    }
    const config = { ...pool.config };
    if (config.size !== undefined && (parseSize(config.size) ?? 0) <= 0) {
      throw badRequest(`Invalid value for "size": "${config.size}" is not a size`);
    }
    const loopFile = loopFileOf(pool);
    if (!config.source) {
      config.source = loopFile;
      config.size ??= DEFAULT_LOOP_SIZE;
    } else if (!config.source.startsWith('/')) {
      throw badRequest('Invalid option "source": Must be an absolute path');
    } else if (config.size !== undefined && config.source !== loopFile) {
      throw badRequest('Invalid option "size": only a pool on a loop file the daemon creates has a size');
    }
    return config;
  }

  async createPool(pool: PoolSpec): Promise<void> {
    const { source } = pool.config;
    const isLoopFile = source === loopFileOf(pool);
    await mkdir(pool.mountPath, { recursive: true, mode: 0o711 });
    if (isLoopFile) {
      await mkdir(dirname(source!), { recursive: true, mode: 0o700 });
      // wx: never reuse (and wipe) a file that is already there.
      const fh = await open(source!, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'EEXIST' ? badRequest(`Loop file "${source}" already exists`) : err;
      });
      try {
        await fh.truncate(parseSize(pool.config.size!)!);
      } finally {
        await fh.close();
      }
      try {
        await bt.mkfsBtrfs(source!);
        await this.mountPool(pool);
      } catch (err) {
        await rm(source!, { force: true });
        throw err;
      }
    } else {
      const kind = await sourceKind(source!);
      if (kind === 'device') await bt.mkfsBtrfs(source!);
      if (kind === 'dir' && (await bt.fsType(source!)) !== 'btrfs') {
        throw badRequest(`Invalid option "source": "${source}" is not on a btrfs filesystem`);
      }
      await this.mountPool(pool);
    }
    try {
      await bt.quotaEnable(pool.mountPath);
      // After the mount: the filesystem's root directory is the pool's mount path now.
      await ensurePoolDirs(pool.mountPath);
    } catch (err) {
      await this.deletePool(pool).catch(() => undefined);
      throw err;
    }
  }

  /** Grows the pool's own loop file, its loop device and the filesystem on it (Incus's Update of `size`). */
  async resizePool(pool: PoolSpec, bytes: number): Promise<void> {
    const file = loopFileOf(pool);
    if (pool.config.source !== file) throw badRequest('Cannot resize non-loopback pools');
    const fh = await open(file, 'r+');
    try {
      await fh.truncate(bytes);
    } finally {
      await fh.close();
    }
    for (const dev of await bt.loopsOf(file)) await bt.loopSetCapacity(dev);
    await bt.filesystemResizeMax(pool.mountPath);
  }

  /** Unmounts, detaches the loop devices of the pool's own loop file and removes that file. */
  async deletePool(pool: PoolSpec): Promise<void> {
    const { source } = pool.config;
    if (await bt.isMountPoint(pool.mountPath)) await bt.umount(pool.mountPath);
    const ownLoop = source === loopFileOf(pool);
    if (ownLoop) {
      for (const dev of await bt.loopsOf(source!).catch(() => [])) await bt.detachLoop(dev);
      await rm(source!, { force: true });
    }
    await rm(ownDir(pool.mountPath), { recursive: true, force: true });
  }

  /** Mounts the pool unless it already is (daemon start, after a reboot). */
  async mountPool(pool: PoolSpec): Promise<void> {
    if (await bt.isMountPoint(pool.mountPath)) return;
    await mkdir(pool.mountPath, { recursive: true, mode: 0o711 });
    const source = pool.config.source!;
    const options = pool.config['btrfs.mount_options'] || DEFAULT_MOUNT_OPTIONS;
    const kind = await sourceKind(source);
    if (kind === 'dir') {
      await run('mount', ['--bind', source, pool.mountPath]);
      return;
    }
    if (kind === 'device') {
      await bt.mountBtrfs(source, pool.mountPath, options);
      return;
    }
    const existing = await bt.loopsOf(source);
    const dev = existing[0] ?? (await bt.attachLoop(source));
    try {
      await bt.mountBtrfs(dev, pool.mountPath, options);
    } catch (err) {
      if (existing.length === 0) await bt.detachLoop(dev).catch(() => undefined);
      throw err;
    }
  }

  volumePath(pool: PoolSpec, type: VolumeType, name: string): string {
    return childPath(pool.mountPath, VOLUME_DIRS[type], name);
  }

  async createVolume(pool: PoolSpec, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void> {
    const path = this.volumePath(pool, type, name);
    await bt.subvolumeCreate(path);
    try {
      await chmod(path, volumeDirMode(type));
      if (type === 'container') await mkdir(join(path, 'rootfs'), { mode: 0o755 });
      if (contentTypeOf(type, opts) === 'block') {
        await this.noDataCow(pool, path);
        await createSparseFile(join(path, BLOCK_FILE), opts?.size ?? DEFAULT_BLOCK_BYTES);
      }
    } catch (err) {
      await bt.subvolumeDelete(path).catch(() => undefined);
      throw err;
    }
  }

  /**
   * chattr +C on a block volume's subvolume before its disk is written, so
   * the disk inherits nodatacow; skipped where the pool is mounted with
   * datacow or compression (mutually exclusive with nodatacow), as Incus does.
   */
  private async noDataCow(pool: PoolSpec, path: string): Promise<void> {
    const options = (pool.config['btrfs.mount_options'] || DEFAULT_MOUNT_OPTIONS).split(',');
    if (options.includes('datacow') || options.some((o) => o.startsWith('compress'))) return;
    await run('chattr', ['+C', path]).catch((err: Error) => {
      throw new Error(`Failed setting nodatacow on "${path}": ${err.message}`);
    });
  }

  async createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string, opts?: VolumeOptions): Promise<void> {
    const path = this.volumePath(pool, type, name);
    await bt.subvolumeCreate(path);
    try {
      await fillFromImage(path, type, imageFile, rootfsFile, opts, () => this.noDataCow(pool, path));
      // After the unpack: a tarball with a "./" entry sets the directory's mode.
      await chmod(path, volumeDirMode(type));
      // Image volumes are only ever cloned: keep them read-only.
      if (type === 'image') await run('btrfs', ['property', 'set', '-ts', path, 'ro', 'true']);
    } catch (err) {
      await bt.subvolumeDelete(path).catch(() => undefined);
      throw err;
    }
  }

  /** A writable snapshot of another volume of the pool: instant, sharing extents (a block disk grown after, see the interface). */
  async cloneVolume(pool: PoolSpec, srcType: VolumeType, srcName: string, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void> {
    const dst = this.volumePath(pool, type, name);
    await bt.subvolumeSnapshot(this.volumePath(pool, srcType, srcName), dst, false);
    try {
      await chmod(dst, volumeDirMode(type));
      await growAfterClone(dst, srcType, type, opts);
    } catch (err) {
      await bt.subvolumeDelete(dst).catch(() => undefined);
      throw err;
    }
  }

  blockPath(pool: PoolSpec, type: VolumeType, name: string): string {
    return join(this.volumePath(pool, type, name), BLOCK_FILE);
  }

  async resizeBlockVolume(pool: PoolSpec, type: VolumeType, name: string, bytes: number): Promise<void> {
    await resizeBlockFile(this.blockPath(pool, type, name), type, bytes);
  }

  /** A subvolume snapshot of a volume or snapshot: instant, sharing extents. */
  async copyVolume(_pool: PoolSpec, srcPath: string, dstPath: string, readonly: boolean): Promise<void> {
    // A snapshot's parent (<type>-snapshots/<volume>) is root's alone; a volume's is its type folder.
    if (!existsSync(dirname(dstPath))) await mkdirMode(dirname(dstPath), SNAPSHOT_PARENT_MODE);
    await bt.subvolumeSnapshot(srcPath, dstPath, readonly);
  }

  /** A qgroup limit; on a block volume its disk grows instead (no limit: nothing to do), as Incus's SetVolumeQuota. */
  async setVolumeQuota(pool: PoolSpec, type: VolumeType, name: string, bytes: number | null): Promise<void> {
    if ((await blockFileSize(this.blockPath(pool, type, name))) !== null) {
      if (bytes !== null) await this.resizeBlockVolume(pool, type, name, bytes);
      return;
    }
    await bt.qgroupLimit(this.volumePath(pool, type, name), bytes);
  }

  async volumeUsage(pool: PoolSpec, type: VolumeType, name: string): Promise<number | null> {
    return bt.qgroupReferenced(this.volumePath(pool, type, name)).catch(() => null);
  }

  async deleteVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    if (await bt.isSubvolume(path)) await bt.subvolumeDelete(path);
    else await rm(path, { recursive: true, force: true });
    // The snapshot folder goes too once it is empty (snapshots are deleted through deleteSnapshot).
    await rmdir(childPath(pool.mountPath, SNAPSHOT_DIRS[type], name)).catch(() => undefined);
  }

  async renameVolume(pool: PoolSpec, type: VolumeType, from: string, to: string): Promise<void> {
    await rename(this.volumePath(pool, type, from), this.volumePath(pool, type, to));
    const snaps = join(pool.mountPath, SNAPSHOT_DIRS[type]);
    await rename(childPath(snaps, from), childPath(snaps, to)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  snapshotPath(pool: PoolSpec, type: VolumeType, name: string, snap: string): string {
    return childPath(pool.mountPath, SNAPSHOT_DIRS[type], name, snap);
  }

  async createSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const dst = this.snapshotPath(pool, type, name, snap);
    await ensureSnapshotParent(pool.mountPath, type, name);
    await bt.subvolumeSnapshot(this.volumePath(pool, type, name), dst, true);
  }

  async deleteSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.snapshotPath(pool, type, name, snap);
    if (await bt.isSubvolume(path)) await bt.subvolumeDelete(path);
    await removeSnapshotParentIfEmpty(pool.mountPath, type, name);
  }

  async renameSnapshot(pool: PoolSpec, type: VolumeType, name: string, from: string, to: string): Promise<void> {
    await rename(this.snapshotPath(pool, type, name, from), this.snapshotPath(pool, type, name, to));
  }

  /**
   * Swaps subvolumes: a writable snapshot of the snapshot takes the
   * volume's place, the old volume is deleted last (kept on failure).
   * The qgroup limit is carried over to the new subvolume.
   */
  async restoreSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    const fresh = `${path}.restore`;
    const old = `${path}.old`;
    const limit = await bt.qgroupMaxReferenced(path).catch(() => null);
    await bt.subvolumeSnapshot(this.snapshotPath(pool, type, name, snap), fresh, false);
    try {
      // An older snapshot may carry a looser mode than the volume it replaces.
      await chmod(fresh, volumeDirMode(type));
      if (limit !== null) await bt.qgroupLimit(fresh, limit);
      await rename(path, old);
    } catch (err) {
      await bt.subvolumeDelete(fresh).catch(() => undefined);
      throw err;
    }
    try {
      await rename(fresh, path);
    } catch (err) {
      await rename(old, path);
      await bt.subvolumeDelete(fresh).catch(() => undefined);
      throw err;
    }
    await bt.subvolumeDelete(old);
  }

  private paths(pool: PoolSpec, type: VolumeType, name: string): SubvolumePaths {
    return { volume: this.volumePath(pool, type, name), snapshot: (s) => this.snapshotPath(pool, type, name, s), mountPath: pool.mountPath };
  }

  /** `btrfs send` streams of the volume and its snapshots (see btrfs-backup.ts). */
  async backupVolume(pool: PoolSpec, type: VolumeType, name: string, snapshots: readonly string[], files: OptimizedBackupFiles, sink: BackupSink): Promise<void> {
    await backupBtrfs(this.paths(pool, type, name), snapshots, files, sink);
  }

  /** The volume and its snapshots received from an optimized backup; nothing left on failure. */
  async createVolumeFromBackup(pool: PoolSpec, type: VolumeType, name: string, snapshots: readonly string[], files: OptimizedBackupFiles, source: BackupSource): Promise<void> {
    const r = new Reverter();
    // Runs last on failure: the snapshot folder the receive made, once emptied.
    r.add(() => removeSnapshotParentIfEmpty(pool.mountPath, type, name));
    try {
      await restoreBtrfs(this.paths(pool, type, name), snapshots, files, source, r);
      // The volume's folder keeps the mode this server gives its type, whatever the stream said.
      await chmod(this.volumePath(pool, type, name), volumeDirMode(type));
      r.success();
    } catch (err) {
      await r.fail();
      throw err;
    }
  }
}
