/** Storage pools, volumes and volume snapshots (`/1.0/storage-pools`, `.../volumes`, `.../snapshots`). */
import type { StoragePool, StoragePoolPut, StoragePoolsPost } from '../api/storage-pool';
import type {
  StoragePoolResources,
  StorageVolume,
  StorageVolumePost,
  StorageVolumePut,
  StorageVolumeSnapshot,
  StorageVolumeSnapshotPut,
  StorageVolumeState,
  StorageVolumesPost,
} from '../api/storage-volume';
import type { CallOptions, IncusClient, WithEtag, WriteOptions } from './client';
import { Operation } from './operation';

const poolPath = (pool: string): string => `/1.0/storage-pools/${encodeURIComponent(pool)}`;
const volPath = (pool: string, type: string, name: string): string =>
  `${poolPath(pool)}/volumes/${encodeURIComponent(type)}/${encodeURIComponent(name)}`;

async function metadata<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, string | number> = {}): Promise<WithEtag<T>> {
  const env = await client.request('GET', path, { ...opts, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return { value: env.metadata as T, etag: env.etag };
}

export async function getStoragePools(client: IncusClient, opts: CallOptions = {}): Promise<StoragePool[]> {
  return (await metadata<StoragePool[] | null>(client, '/1.0/storage-pools', opts, { recursion: 1 })).value ?? [];
}

/** A cluster member's name: its own keys of a pool (`?target=`). */
type TargetOptions = CallOptions & { target?: string };
const targetQuery = (target?: string): Record<string, string> => (target ? { target } : {});

export function getStoragePool(client: IncusClient, pool: string, opts: TargetOptions = {}): Promise<WithEtag<StoragePool>> {
  const { target, ...call } = opts;
  return metadata<StoragePool>(client, poolPath(pool), call, targetQuery(target));
}

/** With `target`, records that member's keys of a pool created on every member later. */
export async function createStoragePool(client: IncusClient, post: StoragePoolsPost, opts: TargetOptions = {}): Promise<void> {
  const { target, ...call } = opts;
  await client.request('POST', '/1.0/storage-pools', { ...call, body: post, query: targetQuery(target) });
}

export async function updateStoragePool(client: IncusClient, pool: string, put: StoragePoolPut, opts: WriteOptions = {}): Promise<void> {
  await client.request('PUT', poolPath(pool), { ...opts, body: put });
}

export async function deleteStoragePool(client: IncusClient, pool: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', poolPath(pool), opts);
}

export async function getStoragePoolResources(client: IncusClient, pool: string, opts: CallOptions = {}): Promise<StoragePoolResources> {
  return (await metadata<StoragePoolResources>(client, `${poolPath(pool)}/resources`, opts)).value;
}

export async function getStorageVolumes(client: IncusClient, pool: string, opts: CallOptions & { allProjects?: boolean } = {}): Promise<StorageVolume[]> {
  const { allProjects, ...call } = opts;
  const query: Record<string, string | number> = allProjects ? { recursion: 1, 'all-projects': 'true' } : { recursion: 1 };
  return (await metadata<StorageVolume[] | null>(client, `${poolPath(pool)}/volumes`, call, query)).value ?? [];
}

export function getStorageVolume(client: IncusClient, pool: string, type: string, name: string, opts: CallOptions = {}): Promise<WithEtag<StorageVolume>> {
  return metadata<StorageVolume>(client, volPath(pool, type, name), opts);
}

export async function getStorageVolumeState(client: IncusClient, pool: string, type: string, name: string, opts: CallOptions = {}): Promise<StorageVolumeState> {
  return (await metadata<StorageVolumeState>(client, `${volPath(pool, type, name)}/state`, opts)).value;
}

export async function createStorageVolume(client: IncusClient, pool: string, post: StorageVolumesPost, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', `${poolPath(pool)}/volumes/${encodeURIComponent(post.type)}`, { ...opts, body: post });
}

export async function updateStorageVolume(client: IncusClient, pool: string, type: string, name: string, put: StorageVolumePut, opts: WriteOptions = {}): Promise<void> {
  await client.request('PUT', volPath(pool, type, name), { ...opts, body: put });
}

/** POST: rename, or move to another pool when post.pool is set. */
export async function renameStorageVolume(client: IncusClient, pool: string, type: string, name: string, post: StorageVolumePost, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', volPath(pool, type, name), { ...opts, body: post });
}

export async function deleteStorageVolume(client: IncusClient, pool: string, type: string, name: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', volPath(pool, type, name), opts);
}

const snapPath = (pool: string, name: string, snap?: string, type = 'custom'): string =>
  `${volPath(pool, type, name)}/snapshots${snap === undefined ? '' : `/${encodeURIComponent(snap)}`}`;

/** Sends a write and waits for its operation when the server answers with one. */
async function waitOp(client: IncusClient, method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, opts: WriteOptions): Promise<void> {
  const env = await client.request(method, path, { ...opts, body });
  if (env.type === 'async') await new Operation(client, env.operation, opts.project ?? client.project).wait(opts.signal);
}

export async function getVolumeSnapshots(client: IncusClient, pool: string, name: string, opts: CallOptions = {}): Promise<StorageVolumeSnapshot[]> {
  return (await metadata<StorageVolumeSnapshot[] | null>(client, snapPath(pool, name), opts, { recursion: 1 })).value ?? [];
}

/** GET .../volumes/{type}/{name}/snapshots/{snap}, with its ETag. */
export function getVolumeSnapshot(client: IncusClient, pool: string, type: string, name: string, snap: string, opts: CallOptions = {}): Promise<WithEtag<StorageVolumeSnapshot>> {
  return metadata<StorageVolumeSnapshot>(client, snapPath(pool, name, snap, type), opts);
}

/** PUT .../volumes/{type}/{name}/snapshots/{snap}: description and expiry; with `opts.etag` refused (412) if it changed. */
export function updateVolumeSnapshot(client: IncusClient, pool: string, type: string, name: string, snap: string, put: StorageVolumeSnapshotPut, opts: WriteOptions = {}): Promise<void> {
  return waitOp(client, 'PUT', snapPath(pool, name, snap, type), put, opts);
}

/**
 * POST .../snapshots (no name: the volume's snapshots.pattern picks one;
 * no expiry: the volume's snapshots.expiry, Go's zero time: none).
 */
export function createVolumeSnapshot(client: IncusClient, pool: string, name: string, snap?: string, opts: CallOptions = {}, expiresAt?: string): Promise<void> {
  const body: { name?: string; expires_at?: string } = snap ? { name: snap } : {};
  if (expiresAt !== undefined) body.expires_at = expiresAt;
  return waitOp(client, 'POST', snapPath(pool, name), body, opts);
}

export function renameVolumeSnapshot(client: IncusClient, pool: string, name: string, snap: string, to: string, opts: CallOptions = {}): Promise<void> {
  return waitOp(client, 'POST', snapPath(pool, name, snap), { name: to }, opts);
}

export function deleteVolumeSnapshot(client: IncusClient, pool: string, name: string, snap: string, opts: CallOptions = {}): Promise<void> {
  return waitOp(client, 'DELETE', snapPath(pool, name, snap), undefined, opts);
}

/** PUT the volume with `restore`: content and config back to the snapshot's. */
export async function restoreVolumeSnapshot(client: IncusClient, pool: string, name: string, snap: string, opts: CallOptions = {}): Promise<void> {
  const { value } = await getStorageVolume(client, pool, 'custom', name, opts);
  await waitOp(client, 'PUT', volPath(pool, 'custom', name), { config: value.config, description: value.description, restore: snap }, opts);
}
