/**
 * Daemon storage volumes (`storage.backups_volume`, `storage.images_volume`):
 * a custom filesystem volume of the default project, `POOL/VOLUME`, that
 * holds $INCUS_DIR/backups or $INCUS_DIR/images in place of the directory,
 * which becomes a symlink to the volume's path
 * (storage-pools/<pool>/custom/default_<volume>), as Incus's daemon_storage.go.
 * Our drivers keep every volume mounted while its pool is, so "mounting"
 * one is making sure the symlink is in place.
 */
import { chmod, chown, lstat, mkdir, readdir, readlink, rename, rm, rmdir, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db';
import { badRequest, notFound, StatusError, statusOf, messageOf } from '../errors';
import { run } from '../images/run';
import type { Logger } from '../log';
import type { StoragePools } from './pools';
import { volumeDiskName } from './volume-names';

/** The server keys and the INCUS_DIR folder each one relocates. */
export const DAEMON_STORAGE_KEYS = {
  'storage.backups_volume': 'backups',
  'storage.images_volume': 'images',
} as const;

export type DaemonStorageKey = keyof typeof DAEMON_STORAGE_KEYS;

const PROJECT = 'default';

export function isDaemonStorageKey(key: string): key is DaemonStorageKey {
  return Object.hasOwn(DAEMON_STORAGE_KEYS, key);
}

/** `POOL/VOLUME` split in two; anything else is refused in Incus's words. */
export function splitDaemonVolume(value: string): { pool: string; volume: string } {
  const fields = value.split('/');
  if (fields.length !== 2) throw badRequest('Invalid syntax for volume, must be <pool>/<volume>');
  return { pool: fields[0]!, volume: fields[1]! };
}

/** The server key whose volume is POOL/VOLUME of the default project, or null (Incus's VolumeUsedByDaemon). */
export function daemonStorageUse(config: Record<string, string>, pool: string, project: string, volume: string): DaemonStorageKey | null {
  if (project !== PROJECT) return null;
  for (const key of Object.keys(DAEMON_STORAGE_KEYS) as DaemonStorageKey[]) {
    if (config[key] === `${pool}/${volume}`) return key;
  }
  return null;
}

/** Where the volume's content lives: its path in the pool. */
async function volumeMountPath(pools: StoragePools, value: string): Promise<string> {
  const { pool, volume } = splitDaemonVolume(value);
  return pools.volumePath(await pools.get(pool), 'custom', volumeDiskName('custom', PROJECT, volume));
}

/**
 * Refuses a volume that cannot hold the daemon's files: a missing pool or
 * volume (404), a remote pool, block content, snapshots, or any content
 * (an ext4 volume's lost+found aside). The message names the key first.
 */
export async function validateDaemonVolume(db: Db, pools: StoragePools, key: DaemonStorageKey, value: string): Promise<void> {
  try {
    const { pool, volume } = splitDaemonVolume(value);
    const p = await db.pools.get(pool);
    if (!p) throw notFound(`Unable to load storage pool "${pool}": Storage pool not found`);
    if (pools.driver(p).info.remote) throw badRequest('Daemon storage volumes cannot be located on clustered storage pools');
    const v = await db.pools.volume(pool, PROJECT, 'custom', volume);
    if (!v) throw notFound(`Failed loading storage volume "${value}" in "${PROJECT}" project: Storage volume not found`);
    if (v.contentType !== 'filesystem') throw badRequest(`Storage volume "${value}" in "${PROJECT}" project is not filesystem content type`);
    const snapshots = (await db.pools.volumes(pool)).filter((s) => s.project === PROJECT && s.type === 'custom' && s.name.startsWith(`${volume}/`));
    if (snapshots.length > 0) throw badRequest('Storage volumes for use by Incus itself cannot have snapshots');
    const entries = (await readdir(await volumeMountPath(pools, value))).filter((n) => n !== 'lost+found');
    if (entries.length > 0) throw badRequest(`Storage volume "${value}" isn't empty`);
  } catch (err) {
    throw new StatusError(statusOf(err), `Failed validation of "${key}": ${messageOf(err)}`);
  }
}

/** Moves every entry of `from` into `to` (a rename where both share a filesystem, else rsync and remove). */
async function moveContent(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    try {
      await rename(join(from, name), join(to, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await run('rsync', ['-aHAXS', '--numeric-ids', join(from, name), `${to}/`]);
      await rm(join(from, name), { recursive: true, force: true });
    }
  }
}

/** The symlink's target, or null where the path is a plain directory (or missing). */
async function linkTarget(path: string): Promise<string | null> {
  return readlink(path).catch(() => null);
}

/**
 * Applies a change of one key (Incus's daemonStorageMove): to a volume, the
 * directory's content (or the previous volume's) moves into it and the
 * directory becomes a symlink; to "" the content moves back into a fresh
 * 0700 directory. The volume was validated beforehand.
 */
export async function moveDaemonStorage(varDir: string, pools: StoragePools, key: DaemonStorageKey, value: string): Promise<void> {
  const dir = join(varDir, DAEMON_STORAGE_KEYS[key]);
  const current = await linkTarget(dir);
  if (value === '') {
    if (current === null) return;
    await unlink(dir);
    await mkdir(dir, { mode: 0o700 });
    await chmod(dir, 0o700);
    await moveContent(current, dir);
    return;
  }
  const target = await volumeMountPath(pools, value);
  await chmod(target, 0o700);
  await chown(target, 0, 0);
  if (current !== null) {
    await unlink(dir);
    await symlink(target, dir);
    await moveContent(current, target);
    return;
  }
  // A plain directory: set aside, linked, emptied into the volume, removed.
  const temp = `${dir}.temp`;
  await rename(dir, temp);
  await symlink(target, dir);
  await moveContent(temp, target);
  await rm(temp, { recursive: true, force: true });
}

/**
 * Daemon start, once the pools are up (Incus's daemonStorageMount): each
 * configured key's directory is a symlink to its volume again. A leftover
 * directory that still holds files is kept (and logged) rather than removed.
 */
export async function mountDaemonStorage(varDir: string, db: Db, pools: StoragePools, log: Logger): Promise<void> {
  const config = await db.config.all();
  for (const key of Object.keys(DAEMON_STORAGE_KEYS) as DaemonStorageKey[]) {
    const value = config[key];
    if (!value) continue;
    const dir = join(varDir, DAEMON_STORAGE_KEYS[key]);
    try {
      const target = await volumeMountPath(pools, value);
      if ((await linkTarget(dir)) === target) continue;
      const st = await lstat(dir).catch(() => null);
      if (st?.isSymbolicLink()) await unlink(dir);
      else if (st) await rmdir(dir);
      await symlink(target, dir);
    } catch (err) {
      log.error(`Failed to mount ${DAEMON_STORAGE_KEYS[key]} storage`, { volume: value, err: messageOf(err) });
    }
  }
}
