/**
 * Directory modes that keep instance, snapshot, volume and image content out
 * of reach of unprivileged host users, as Incus lays them out
 * (internal/server/storage/drivers/volume.go BaseDirectories and
 * EnsureMountPath, utils.go CreateParentSnapshotDirIfMissing).
 *
 * Why it matters: an idmapped rootfs stores container uid 0 as host uid 0,
 * so a setuid-root file made inside a container is setuid root on the host;
 * the only thing between it and a local user is that no directory on its
 * path can be traversed by them.
 */
import { chmod, mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SNAPSHOT_DIRS, VOLUME_DIRS, type VolumeType } from './interface';

/** A pool's mount path: traversable, so that the runtime reaches containers/. */
export const POOL_DIR_MODE = 0o711;

/**
 * Each volume type's folder and its snapshots' folder. Containers stay 0711
 * because a container's root (a host uid of its map) must traverse to a
 * rootfs shifted on disk; everything else is root's alone.
 */
export const TYPE_DIR_MODES: Record<VolumeType, { volumes: number; snapshots: number }> = {
  container: { volumes: 0o711, snapshots: 0o711 },
  'virtual-machine': { volumes: 0o700, snapshots: 0o700 },
  image: { volumes: 0o700, snapshots: 0o700 },
  custom: { volumes: 0o700, snapshots: 0o700 },
};

/** <type>-snapshots/<volume>: the folder holding one volume's snapshots. */
export const SNAPSHOT_PARENT_MODE = 0o700;

/**
 * A volume's own directory: an instance's (rootfs/, metadata.yaml,
 * templates/) is traversable by its owner only (root; the container's root
 * while it runs); custom and image volumes sit in 0700 folders and keep
 * 0711 (custom: or their initial.mode).
 */
export function volumeDirMode(type: VolumeType): number {
  return type === 'container' || type === 'virtual-machine' ? 0o100 : 0o711;
}

/** mkdir then chmod: mkdir's mode is cut by the umask and leaves an existing directory alone. */
export async function mkdirMode(path: string, mode: number): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
}

/** The pool's mount path and its per-type folders, created where missing, modes set either way. */
export async function ensurePoolDirs(mountPath: string): Promise<void> {
  await mkdirMode(mountPath, POOL_DIR_MODE);
  for (const type of Object.keys(VOLUME_DIRS) as VolumeType[]) {
    await mkdirMode(join(mountPath, VOLUME_DIRS[type]), TYPE_DIR_MODES[type].volumes);
    await mkdirMode(join(mountPath, SNAPSHOT_DIRS[type]), TYPE_DIR_MODES[type].snapshots);
  }
}

/** Creates <type>-snapshots/<volume> when missing (0700). */
export async function ensureSnapshotParent(mountPath: string, type: VolumeType, volume: string): Promise<void> {
  await mkdir(join(mountPath, SNAPSHOT_DIRS[type], volume), { mode: SNAPSHOT_PARENT_MODE }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
}

/** Removes <type>-snapshots/<volume> once its last snapshot is gone (Incus's deleteParentSnapshotDirIfEmpty). */
export async function removeSnapshotParentIfEmpty(mountPath: string, type: VolumeType, volume: string): Promise<void> {
  await rmdir(join(mountPath, SNAPSHOT_DIRS[type], volume)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err;
  });
}

/** chmod that tolerates a read-only snapshot or a vanished entry (the parent folder's mode still protects it). */
async function chmodLoose(path: string, mode: number): Promise<void> {
  await chmod(path, mode).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EROFS' && err.code !== 'ENOENT' && err.code !== 'EPERM') throw err;
  });
}

/**
 * Daemon start: closes up the modes of an existing pool (one chmod per
 * directory): the pool and type folders, every instance volume (0100),
 * every volume's snapshot folder (0700) and instance snapshots (0100).
 * Custom volumes keep their own mode (initial.mode), their folder is 0700.
 */
export async function fixPoolModes(mountPath: string): Promise<void> {
  await ensurePoolDirs(mountPath);
  for (const type of Object.keys(VOLUME_DIRS) as VolumeType[]) {
    const instance = volumeDirMode(type) === 0o100;
    if (instance) {
      for (const name of await readdir(join(mountPath, VOLUME_DIRS[type]))) {
        await chmodLoose(join(mountPath, VOLUME_DIRS[type], name), 0o100);
      }
    }
    const snapsDir = join(mountPath, SNAPSHOT_DIRS[type]);
    for (const name of await readdir(snapsDir)) {
      await chmodLoose(join(snapsDir, name), SNAPSHOT_PARENT_MODE);
      if (!instance) continue;
      for (const snap of await readdir(join(snapsDir, name)).catch(() => [] as string[])) await chmodLoose(join(snapsDir, name, snap), 0o100);
    }
  }
}
