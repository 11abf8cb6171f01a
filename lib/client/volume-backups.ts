/**
 * Custom volume backups (`/1.0/storage-pools/{pool}/volumes/custom/{vol}/backups`):
 * create, list, delete, download; and import of a backup file through
 * `POST /1.0/storage-pools/{pool}/volumes/custom` as an octet-stream.
 */
import type { Readable } from 'node:stream';
import type { Operation as OperationData } from '../api/operation';
import type { StorageVolumeBackup, StorageVolumeBackupsPost } from '../api/storage-volume-backup';
import { downloadExport, uploadBackup, waitOp } from './backups';
import type { CallOptions, IncusClient } from './client';

const seg = encodeURIComponent;
const base = (pool: string, vol: string): string => `/1.0/storage-pools/${seg(pool)}/volumes/custom/${seg(vol)}/backups`;
const one = (pool: string, vol: string, b: string): string => `${base(pool, vol)}/${seg(b)}`;

/** GET .../backups?recursion=1. */
export async function getVolumeBackups(client: IncusClient, pool: string, vol: string, opts: CallOptions = {}): Promise<StorageVolumeBackup[]> {
  const env = await client.request('GET', base(pool, vol), { ...opts, query: { recursion: 1 } });
  return (env.type === 'sync' ? env.metadata : []) as StorageVolumeBackup[];
}

/** POST .../backups, waiting for the tarball to be written. */
export async function createVolumeBackup(client: IncusClient, pool: string, vol: string, post: StorageVolumeBackupsPost, opts: CallOptions = {}): Promise<void> {
  await waitOp(client, 'POST', base(pool, vol), post, opts);
}

export async function deleteVolumeBackup(client: IncusClient, pool: string, vol: string, backup: string, opts: CallOptions = {}): Promise<void> {
  await waitOp(client, 'DELETE', one(pool, vol, backup), undefined, opts);
}

/** Streams a backup's export into `file` (or a stream); returns the bytes written. */
export async function downloadVolumeBackup(client: IncusClient, pool: string, vol: string, backup: string, file: string | NodeJS.WritableStream, opts: CallOptions = {}): Promise<number> {
  return downloadExport(client, `${one(pool, vol, backup)}/export`, file, opts);
}

/**
 * Imports a file (a path or a stream such as stdin) as a custom volume,
 * named `name` or as in the file: a backup tarball, or with `type` iso an ISO image.
 */
export async function importVolumeBackup(client: IncusClient, pool: string, source: string | Readable, name: string | undefined, opts: CallOptions & { type?: 'backup' | 'iso' } = {}): Promise<OperationData> {
  return uploadBackup(client, `/1.0/storage-pools/${seg(pool)}/volumes/custom`, source, { name, type: opts.type === 'iso' ? 'iso' : undefined }, opts);
}
