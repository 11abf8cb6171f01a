/** Instance snapshots (`/1.0/instances/{name}/snapshots`): list, get, create, rename, re-date, delete, restore. */
import type { InstanceSnapshot, InstanceSnapshotPut, InstanceSnapshotsPost } from '../api/instance-snapshot';
import type { CallOptions, IncusClient, WithEtag, WriteOptions } from './client';
import { Operation } from './operation';

const base = (name: string): string => `/1.0/instances/${encodeURIComponent(name)}/snapshots`;
const one = (name: string, snap: string): string => `${base(name)}/${encodeURIComponent(snap)}`;

async function waitOp(client: IncusClient, method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, opts: WriteOptions): Promise<void> {
  const env = await client.request(method, path, { ...opts, body });
  if (env.type === 'async') await new Operation(client, env.operation, opts.project ?? client.project).wait(opts.signal);
}

/** GET .../snapshots?recursion=1. */
export async function getSnapshots(client: IncusClient, name: string, opts: CallOptions = {}): Promise<InstanceSnapshot[]> {
  const env = await client.request('GET', base(name), { ...opts, query: { recursion: 1 } });
  return (env.type === 'sync' ? env.metadata : []) as InstanceSnapshot[];
}

/** GET .../snapshots/{snap}. */
export async function getSnapshot(client: IncusClient, name: string, snap: string, opts: CallOptions = {}): Promise<InstanceSnapshot> {
  return (await getSnapshotWithEtag(client, name, snap, opts)).value;
}

/** GET .../snapshots/{snap} with its ETag (for a guarded update). */
export async function getSnapshotWithEtag(client: IncusClient, name: string, snap: string, opts: CallOptions = {}): Promise<WithEtag<InstanceSnapshot>> {
  const env = await client.request('GET', one(name, snap), opts);
  return env.type === 'sync' ? { value: env.metadata as InstanceSnapshot, etag: env.etag } : { value: {} as InstanceSnapshot, etag: '' };
}

/** PUT .../snapshots/{snap}: the writable part; with `opts.etag` refused (412) if it changed since read. */
export function updateSnapshot(client: IncusClient, name: string, snap: string, put: InstanceSnapshotPut, opts: WriteOptions = {}): Promise<void> {
  return waitOp(client, 'PUT', one(name, snap), put, opts);
}

/** POST .../snapshots, waiting for the operation. */
export function createSnapshot(client: IncusClient, name: string, post: InstanceSnapshotsPost, opts: CallOptions = {}): Promise<void> {
  return waitOp(client, 'POST', base(name), post, opts);
}

/** POST .../snapshots/{snap} {name}. */
export function renameSnapshot(client: IncusClient, name: string, snap: string, newName: string, opts: CallOptions = {}): Promise<void> {
  return waitOp(client, 'POST', one(name, snap), { name: newName }, opts);
}

/** PUT .../snapshots/{snap} {expires_at}. */
export function updateSnapshotExpiry(client: IncusClient, name: string, snap: string, expiresAt: string, opts: CallOptions = {}): Promise<void> {
  return updateSnapshot(client, name, snap, { expires_at: expiresAt }, opts);
}

/** DELETE .../snapshots/{snap}. */
export function deleteSnapshot(client: IncusClient, name: string, snap: string, opts: CallOptions = {}): Promise<void> {
  return waitOp(client, 'DELETE', one(name, snap), undefined, opts);
}

/** PUT /1.0/instances/{name} {restore}: disk and config back to the snapshot's. */
export async function restoreSnapshot(client: IncusClient, name: string, snap: string, stateful = false, opts: CallOptions = {}): Promise<void> {
  await waitOp(client, 'PUT', `/1.0/instances/${encodeURIComponent(name)}`, { restore: snap, stateful }, opts);
}
