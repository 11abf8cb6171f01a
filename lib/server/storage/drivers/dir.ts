/**
 * The `dir` driver: every volume is a plain directory under the pool's
 * mount path. An image is unpacked once into an image volume and each
 * instance gets a copy of that (reflinked where the filesystem can): copying
 * a few hundred files costs far less than decompressing the tarball again
 * for every launch.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { badRequest } from '../../errors';
import { unpackImage } from '../../images/unpack';
import { type PoolSpec, type StorageDriver, type VolumeType, SNAPSHOT_DIRS, VOLUME_DIRS } from '../interface';
import { ensurePoolDirs, ensureSnapshotParent, mkdirMode, SNAPSHOT_PARENT_MODE, volumeDirMode } from '../modes';
import { run } from '../../images/run';
import { childPath, ownDir } from '../../names';

const KNOWN_KEYS = new Set(['source']);

export class DirDriver implements StorageDriver {
  readonly info = {
    name: 'dir',
    version: '1',
    optimizedImages: true,
    instantSnapshots: false,
    quotas: false,
    sendReceive: false,
    remote: false,
  };

  fillPoolConfig(pool: PoolSpec): Record<string, string> {
    for (const k of Object.keys(pool.config)) {
      if (!KNOWN_KEYS.has(k) && !k.startsWith('user.')) throw badRequest(`Invalid option for "dir" driver: Unknown key "${k}"`);
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

  async createVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    await mkdir(path, { mode: volumeDirMode(type) });
    await chmod(path, volumeDirMode(type));
    if (type === 'container') await mkdir(join(path, 'rootfs'), { mode: 0o755 });
  }

  async createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    await mkdir(path, { mode: volumeDirMode(type) });
    await unpackImage(imageFile, path, rootfsFile);
    // After the unpack: a tarball with a "./" entry sets the directory's mode.
    await chmod(path, volumeDirMode(type));
  }

  /** A full copy of the image volume, keeping owners, modes, xattrs and ACLs. */
  async cloneVolume(pool: PoolSpec, srcType: VolumeType, srcName: string, type: VolumeType, name: string): Promise<void> {
    const dst = this.volumePath(pool, type, name);
    await run('cp', ['-a', '--reflink=auto', this.volumePath(pool, srcType, srcName), dst]);
    await chmod(dst, volumeDirMode(type));
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
    await run('cp', ['-a', '--reflink=auto', this.volumePath(pool, type, name), dst]);
  }

  async deleteSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    await rm(this.snapshotPath(pool, type, name, snap), { recursive: true, force: true });
  }

  async renameSnapshot(pool: PoolSpec, type: VolumeType, name: string, from: string, to: string): Promise<void> {
    await rename(this.snapshotPath(pool, type, name, from), this.snapshotPath(pool, type, name, to));
  }

  /** A full copy, reflinked where the filesystem can. */
  async copyVolume(_pool: PoolSpec, srcPath: string, dstPath: string): Promise<void> {
    // A snapshot's parent (<type>-snapshots/<volume>) is root's alone; a volume's is its type folder.
    if (!existsSync(dirname(dstPath))) await mkdirMode(dirname(dstPath), SNAPSHOT_PARENT_MODE);
    await run('cp', ['-a', '--reflink=auto', srcPath, dstPath]);
  }

  /**
   * rsync with --delete: the volume ends up identical to the snapshot.
   * --checksum because a file changed within the same second at the same
   * size passes rsync's size+mtime check and would be skipped.
   */
  async restoreSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const src = `${this.snapshotPath(pool, type, name, snap)}/`;
    const dst = `${this.volumePath(pool, type, name)}/`;
    await run('rsync', ['-aHAX', '--numeric-ids', '--delete', '--checksum', src, dst]);
    // rsync gave the volume the snapshot's own mode, which an older snapshot may have looser.
    await chmod(dst, volumeDirMode(type));
  }
}
