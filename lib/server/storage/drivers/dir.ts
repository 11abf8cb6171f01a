/**
 * The `dir` driver: every volume is a plain directory under the pool's
 * mount path. An image is unpacked once into an image volume and each
 * instance gets a copy of that (reflinked where the filesystem can): copying
 * a few hundred files costs far less than decompressing the tarball again
 * for every launch. A block volume (a VM's root disk, a custom block
 * volume) is a sparse `root.img` in its directory; copies reflink it where
 * the filesystem can and keep its holes either way.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { badRequest } from '../../errors';
import { isCommonPoolKey } from '../pool-keys';
import { BLOCK_FILE, contentTypeOf, copyBlockFile, createSparseFile, DEFAULT_BLOCK_BYTES, fillFromImage, growAfterClone, resizeBlockFile } from '../block-file';
import { type PoolSpec, type StorageDriver, type VolumeOptions, type VolumeType, SNAPSHOT_DIRS, VOLUME_DIRS } from '../interface';
import { ensurePoolDirs, ensureSnapshotParent, removeSnapshotParentIfEmpty, mkdirMode, SNAPSHOT_PARENT_MODE, volumeDirMode } from '../modes';
import { run } from '../../images/run';
import { childPath, ownDir } from '../../names';

const KNOWN_KEYS = new Set(['source', 'rsync.compression']);

export class DirDriver implements StorageDriver {
  readonly info = {
    name: 'dir',
    version: '1',
    optimizedImages: true,
    instantSnapshots: false,
    quotas: false,
    sendReceive: false,
    remote: false,
    optimizedBackups: false,
  };

  fillPoolConfig(pool: PoolSpec): Record<string, string> {
    for (const k of Object.keys(pool.config)) {
      if (!KNOWN_KEYS.has(k) && !isCommonPoolKey(k) && !k.startsWith('user.')) throw badRequest(`Invalid option for "dir" driver: Unknown key "${k}"`);
    }
    const source = pool.config.source || pool.mountPath;
    if (source !== pool.mountPath) throw badRequest('Invalid option "source": a dir pool outside the daemon directory is not supported yet');
    return { ...pool.config, source };
  }

  async createPool(pool: PoolSpec): Promise<void> {
    await ensurePoolDirs(pool.mountPath);
  }

  async deletePool(pool: PoolSpec): Promise<void> {
    await rm(ownDir(pool.mountPath), { recursive: true, force: true });
  }

  async mountPool(pool: PoolSpec): Promise<void> {
    await stat(pool.mountPath);
  }

  volumePath(pool: PoolSpec, type: VolumeType, name: string): string {
    return childPath(pool.mountPath, VOLUME_DIRS[type], name);
  }

  async createVolume(pool: PoolSpec, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void> {
    const path = this.volumePath(pool, type, name);
    await mkdir(path, { mode: volumeDirMode(type) });
    try {
      await chmod(path, volumeDirMode(type));
      if (type === 'container') await mkdir(join(path, 'rootfs'), { mode: 0o755 });
      if (contentTypeOf(type, opts) === 'block') await createSparseFile(join(path, BLOCK_FILE), opts?.size ?? DEFAULT_BLOCK_BYTES);
    } catch (err) {
      await rm(path, { recursive: true, force: true });
      throw err;
    }
  }

  async createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string, opts?: VolumeOptions): Promise<void> {
    const path = this.volumePath(pool, type, name);
    await mkdir(path, { mode: volumeDirMode(type) });
    try {
      await fillFromImage(path, type, imageFile, rootfsFile, opts);
      // After the unpack: a tarball with a "./" entry sets the directory's mode.
      await chmod(path, volumeDirMode(type));
    } catch (err) {
      await rm(path, { recursive: true, force: true });
      throw err;
    }
  }

  /** A full copy of the image volume, keeping owners, modes, xattrs, ACLs and a block disk's holes. */
  async cloneVolume(pool: PoolSpec, srcType: VolumeType, srcName: string, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void> {
    const dst = this.volumePath(pool, type, name);
    await run('cp', ['-a', '--reflink=auto', '--sparse=always', this.volumePath(pool, srcType, srcName), dst]);
    try {
      await chmod(dst, volumeDirMode(type));
      await growAfterClone(dst, srcType, type, opts);
    } catch (err) {
      await rm(dst, { recursive: true, force: true });
      throw err;
    }
  }

  blockPath(pool: PoolSpec, type: VolumeType, name: string): string {
    return join(this.volumePath(pool, type, name), BLOCK_FILE);
  }

  async resizeBlockVolume(pool: PoolSpec, type: VolumeType, name: string, bytes: number): Promise<void> {
    await resizeBlockFile(this.blockPath(pool, type, name), type, bytes);
  }

  async deleteVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void> {
    await rm(this.volumePath(pool, type, name), { recursive: true, force: true });
  }

  async renameVolume(pool: PoolSpec, type: VolumeType, from: string, to: string): Promise<void> {
    await rename(this.volumePath(pool, type, from), this.volumePath(pool, type, to));
  }

  snapshotPath(pool: PoolSpec, type: VolumeType, name: string, snap: string): string {
    return childPath(pool.mountPath, SNAPSHOT_DIRS[type], name, snap);
  }

  /** A full copy (reflinked where the filesystem can), keeping owners, modes, xattrs and ACLs. */
  async createSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const dst = this.snapshotPath(pool, type, name, snap);
    await ensureSnapshotParent(pool.mountPath, type, name);
    await run('cp', ['-a', '--reflink=auto', '--sparse=always', this.volumePath(pool, type, name), dst]);
  }

  async deleteSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    await rm(this.snapshotPath(pool, type, name, snap), { recursive: true, force: true });
    await removeSnapshotParentIfEmpty(pool.mountPath, type, name);
  }

  async renameSnapshot(pool: PoolSpec, type: VolumeType, name: string, from: string, to: string): Promise<void> {
    await rename(this.snapshotPath(pool, type, name, from), this.snapshotPath(pool, type, name, to));
  }

  /** A full copy, reflinked where the filesystem can. */
  async copyVolume(_pool: PoolSpec, srcPath: string, dstPath: string): Promise<void> {
    // A snapshot's parent (<type>-snapshots/<volume>) is root's alone; a volume's is its type folder.
    if (!existsSync(dirname(dstPath))) await mkdirMode(dirname(dstPath), SNAPSHOT_PARENT_MODE);
    await run('cp', ['-a', '--reflink=auto', '--sparse=always', srcPath, dstPath]);
  }

  /**
   * rsync with --delete: the volume ends up identical to the snapshot.
   * --checksum because a file changed within the same second at the same
   * size passes rsync's size+mtime check and would be skipped. A block
   * disk is not rsynced (that would checksum and rewrite gigabytes and fill
   * its holes): a reflinked, sparse copy of the snapshot's takes its place.
   */
  async restoreSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const src = `${this.snapshotPath(pool, type, name, snap)}/`;
    const dst = `${this.volumePath(pool, type, name)}/`;
    const disk = existsSync(join(src, BLOCK_FILE));
    await run('rsync', ['-aHAX', '--numeric-ids', '--delete', '--checksum', ...(disk ? [`--exclude=/${BLOCK_FILE}`] : []), src, dst]);
    if (disk) {
      const fresh = join(dst, `${BLOCK_FILE}.restore`);
      await rm(fresh, { force: true });
      await copyBlockFile(join(src, BLOCK_FILE), fresh);
      await rename(fresh, join(dst, BLOCK_FILE));
    }
    // rsync gave the volume the snapshot's own mode, which an older snapshot may have looser.
    await chmod(dst, volumeDirMode(type));
  }
}
