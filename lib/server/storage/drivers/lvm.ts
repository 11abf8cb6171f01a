/**
 * The `lvm` driver: a volume group with one thin pool, on a loop file the
 * daemon creates under $INCUS_DIR/disks/<pool>.img or on a block device
 * (`source`). Every volume is a thin LV formatted ext4 and kept mounted at
 * its volume path while the pool is up; snapshots are thin snapshots.
 * Needs device-mapper in the kernel. See lvcreate(8), lvremove(8), vgcreate(8).
 */
import { chmod, mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { badRequest } from '../../errors';
import { run } from '../../images/run';
import { unpackImage } from '../../images/unpack';
import { parseSize } from '../../instance/config/units';
import { type PoolSpec, type StorageDriver, type VolumeType, SNAPSHOT_DIRS, VOLUME_DIRS } from '../interface';
import { ensurePoolDirs, ensureSnapshotParent, volumeDirMode } from '../modes';
import { childPath, ownDir, pathComponentProblem } from '../../names';
import { attachLoop, detachLoop, isMountPoint, loopsOf, umount } from './btrfs-tools';

const KNOWN_KEYS = new Set(['source', 'size', 'lvm.vg_name', 'lvm.thinpool_name', 'volume.size']);
const THIN_POOL = 'IncusThinPool';
const DEFAULT_VOLUME_SIZE = '10GiB';

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
  };

  fillPoolConfig(pool: PoolSpec): Record<string, string> {
    for (const k of Object.keys(pool.config)) {
      if (!KNOWN_KEYS.has(k) && !k.startsWith('user.')) throw badRequest(`Invalid option for "lvm" driver: Unknown key "${k}"`);
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
        if (!lv.startsWith(prefix) || /[^-]-[^-]/.test(lv.slice(prefix.length))) continue;
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

  async createVolume(pool: PoolSpec, type: VolumeType, name: string, size?: number): Promise<void> {
    const bytes = size ?? parseSize(pool.config['volume.size'] || DEFAULT_VOLUME_SIZE)!;
    const thin = `${this.vg(pool)}/${pool.config['lvm.thinpool_name'] || THIN_POOL}`;
    await lvm('lvcreate', ['-y', '-n', lvName(type, name), '-V', `${bytes}b`, '--thinpool', thin]);
    const dev = this.device(pool, type, name);
    const path = this.volumePath(pool, type, name);
    try {
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

  async createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string): Promise<void> {
    await this.createVolume(pool, type, name);
    const path = this.volumePath(pool, type, name);
    await rm(join(path, 'rootfs'), { recursive: true, force: true });
    await unpackImage(imageFile, path, rootfsFile);
  }

  async deleteVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    if (await isMountPoint(path)) await umount(path);
    await lvm('lvremove', ['-f', this.device(pool, type, name)]).catch((err: Error) => {
      if (!/not found|Failed to find/.test(err.message)) throw err;
    });
    await rm(path, { recursive: true, force: true });
  }

  async renameVolume(pool: PoolSpec, type: VolumeType, from: string, to: string): Promise<void> {
    const src = this.volumePath(pool, type, from);
    const dst = this.volumePath(pool, type, to);
    await umount(src);
    await lvm('lvrename', [this.vg(pool), lvName(type, from), lvName(type, to)]);
    await mkdir(dst, { recursive: true, mode: 0o711 });
    await run('mount', [this.device(pool, type, to), dst]);
    await rm(src, { recursive: true, force: true });
  }

  async setVolumeQuota(pool: PoolSpec, type: VolumeType, name: string, bytes: number | null): Promise<void> {
    if (bytes === null) return;
    await lvm('lvresize', ['-r', '-f', '-L', `${bytes}b`, this.device(pool, type, name)]);
  }

  snapshotPath(pool: PoolSpec, type: VolumeType, name: string, snap: string): string {
    return childPath(pool.mountPath, SNAPSHOT_DIRS[type], name, snap);
  }

  async createSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    await lvm('lvcreate', ['-y', '-s', '-kn', '-n', lvName(type, name, snap), `${this.vg(pool)}/${lvName(type, name)}`]);
    const path = this.snapshotPath(pool, type, name, snap);
    await ensureSnapshotParent(pool.mountPath, type, name);
    await mkdir(path, { recursive: true, mode: 0o711 });
    await run('mount', ['-o', 'ro,noload', this.device(pool, type, name, snap), path]);
  }

  async deleteSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.snapshotPath(pool, type, name, snap);
    if (await isMountPoint(path)) await umount(path);
    await lvm('lvremove', ['-f', this.device(pool, type, name, snap)]);
    await rm(path, { recursive: true, force: true });
  }

  async renameSnapshot(pool: PoolSpec, type: VolumeType, name: string, from: string, to: string): Promise<void> {
    const src = this.snapshotPath(pool, type, name, from);
    if (await isMountPoint(src)) await umount(src);
    await lvm('lvrename', [this.vg(pool), lvName(type, name, from), lvName(type, name, to)]);
    const dst = this.snapshotPath(pool, type, name, to);
    await mkdir(dst, { recursive: true, mode: 0o711 });
    await run('mount', ['-o', 'ro,noload', this.device(pool, type, name, to), dst]);
    await rm(src, { recursive: true, force: true });
  }

  /** Replaces the volume's LV by a thin snapshot of the snapshot. */
  async restoreSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void> {
    const path = this.volumePath(pool, type, name);
    const vg = this.vg(pool);
    const tmp = `${lvName(type, name)}-restore`;
    await lvm('lvcreate', ['-y', '-s', '-kn', '-n', tmp, `${vg}/${lvName(type, name, snap)}`]);
    await lvm('lvchange', ['-ay', `${vg}/${tmp}`]);
    if (await isMountPoint(path)) await umount(path);
    await lvm('lvremove', ['-f', this.device(pool, type, name)]);
    await lvm('lvrename', [vg, tmp, lvName(type, name)]);
    await run('mount', [this.device(pool, type, name), path]);
  }
}
