/**
 * `incus storage volume get|set|unset POOL [TYPE/]VOLUME[/SNAPSHOT] ...`:
 * config keys of a volume, or with `--property` the fields of its writable
 * struct (description; a snapshot's description and expires_at). A
 * snapshot's config is read-only.
 */
import type { StorageVolumeSnapshotPut } from '../../api/storage-volume';
import { isNotFound } from '../../client/errors';
import type { CliContext } from '../context';
import { getProperty, setProperties, unsetProperties } from '../properties';
import { STORAGE_VOLUME, STORAGE_VOLUME_PUT, STORAGE_VOLUME_SNAPSHOT, STORAGE_VOLUME_SNAPSHOT_PUT } from '../yaml-decode';

type StorageApi = typeof import('../../client/storage');
const api = (): StorageApi => require('../../client/storage') as StorageApi;

/** The volume types a path may start with (Incus's StorageVolumeType atom). */
const VOLUME_TYPES = new Set(['custom', 'image', 'container', 'virtual-machine']);

/** A `[type/]volume[/snapshot]` argument. */
export interface VolumePath {
  type: string;
  name: string;
  snapshot?: string;
}

/** Splits `[type/]volume[/snapshot]`: a leading known type, else custom. */
export function splitVolumePath(arg: string): VolumePath {
  const parts = arg.split('/');
  const type = parts.length > 1 && VOLUME_TYPES.has(parts[0]!) ? parts.shift()! : 'custom';
  const out: VolumePath = { type, name: parts[0]! };
  if (parts.length > 1) out.snapshot = parts.slice(1).join('/');
  return out;
}

/** Incus's message for a missing volume (a 404 from the server). */
async function volumeOr404<T>(path: VolumePath, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isNotFound(err)) throw new Error(`Storage pool volume "${path.type}/${path.name}" not found`);
    throw err;
  }
}

/** Flags of `storage volume get|set|unset`. */
export interface VolumeKeyFlags {
  property?: boolean;
}

/** `storage volume get`: a config key's value (nothing at all when unset), or a property. */
export async function getVolumeKey(ctx: CliContext, pool: string, arg: string, key: string, flags: VolumeKeyFlags): Promise<number> {
  const path = splitVolumePath(arg);
  const client = ctx.client();
  let value: { config: Record<string, string> };
  if (path.snapshot !== undefined) {
    const snap = (await api().getVolumeSnapshot(client, pool, path.type, path.name, path.snapshot)).value;
    if (flags.property) {
      try {
        ctx.out(`${getProperty(snap, STORAGE_VOLUME_SNAPSHOT, key)}\n`);
      } catch (err) {
        throw new Error(`The property ${JSON.stringify(key)} does not exist on the storage pool volume snapshot ${path.name}/${path.snapshot}: ${(err as Error).message}`);
      }
      return 0;
    }
    value = snap;
  } else {
    const vol = (await volumeOr404(path, () => api().getStorageVolume(client, pool, path.type, path.name))).value;
    if (flags.property) {
      try {
        ctx.out(`${getProperty(vol, STORAGE_VOLUME, key)}\n`);
      } catch (err) {
        throw new Error(`The property ${JSON.stringify(key)} does not exist on the storage pool volume ${JSON.stringify(path.name)}: ${(err as Error).message}`);
      }
      return 0;
    }
    value = vol;
  }
  if (key in value.config) ctx.out(`${value.config[key]}\n`);
  return 0;
}

/** Sets (values) or unsets (keys) a snapshot's properties; its config cannot change. */
async function changeSnapshot(ctx: CliContext, pool: string, path: VolumePath, flags: VolumeKeyFlags, change: (put: StorageVolumeSnapshotPut) => void): Promise<number> {
  if (!flags.property) throw new Error("Snapshots are read-only and can't have their configuration changed");
  const client = ctx.client();
  const { value, etag } = await api().getVolumeSnapshot(client, pool, path.type, path.name, path.snapshot!);
  const put: StorageVolumeSnapshotPut = { description: value.description, expires_at: value.expires_at };
  change(put);
  await api().updateVolumeSnapshot(client, pool, path.type, path.name, path.snapshot!, put, { etag });
  return 0;
}

/** Changes a volume's writable part (config and description) and PUTs it with its ETag. */
async function changeVolume(
  ctx: CliContext,
  pool: string,
  path: VolumePath,
  change: (put: { config: Record<string, string>; description: string }) => void,
): Promise<number> {
  const client = ctx.client();
  const { value, etag } = await volumeOr404(path, () => api().getStorageVolume(client, pool, path.type, path.name));
  const put = { config: { ...value.config }, description: value.description };
  change(put);
  await api().updateStorageVolume(client, pool, path.type, path.name, put, { etag });
  return 0;
}

/** `storage volume set POOL VOLUME[/SNAPSHOT] key=value... [--property]`. */
export function setVolumeKeys(ctx: CliContext, pool: string, arg: string, values: Record<string, string>, flags: VolumeKeyFlags): Promise<number> {
  const path = splitVolumePath(arg);
  if (path.snapshot !== undefined) return changeSnapshot(ctx, pool, path, flags, (put) => setProperties(put, STORAGE_VOLUME_SNAPSHOT_PUT, values));
  return changeVolume(ctx, pool, path, (put) => {
    if (flags.property) setProperties(put, STORAGE_VOLUME_PUT, values);
    else Object.assign(put.config, values);
  });
}

/** `storage volume unset POOL VOLUME[/SNAPSHOT] key... [--property]`. */
export function unsetVolumeKeys(ctx: CliContext, pool: string, arg: string, keys: readonly string[], flags: VolumeKeyFlags): Promise<number> {
  const path = splitVolumePath(arg);
  const prefix = 'Error unsetting property';
  if (path.snapshot !== undefined) return changeSnapshot(ctx, pool, path, flags, (put) => unsetProperties(put, STORAGE_VOLUME_SNAPSHOT_PUT, keys, prefix));
  return changeVolume(ctx, pool, path, (put) => {
    if (flags.property) {
      unsetProperties(put, STORAGE_VOLUME_PUT, keys, prefix);
      return;
    }
    for (const key of keys) {
      if (!(key in put.config)) throw new Error(`The key "${key}" does not exist`);
      delete put.config[key];
    }
  });
}
