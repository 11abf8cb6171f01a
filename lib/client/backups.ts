/**
 * Instance backups (`/1.0/instances/{name}/backups`): create, list, get,
 * rename, delete, download to a file; and import of a backup file through
 * `POST /1.0/instances` as an octet-stream.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { InstanceBackup, InstanceBackupsPost } from '../api/instance-backup';
import type { Operation as OperationData } from '../api/operation';
import type { CallOptions, IncusClient } from './client';
import { openDownload } from './download';
import { ApiError } from './errors';
import { Operation } from './operation';

const seg = encodeURIComponent;
const base = (name: string): string => `/1.0/instances/${seg(name)}/backups`;
const one = (name: string, b: string): string => `${base(name)}/${seg(b)}`;

/** Sends a request that answers with an operation, and waits for it. */
export async function waitOp(client: IncusClient, method: 'POST' | 'DELETE', path: string, body: unknown, opts: CallOptions): Promise<OperationData> {
  const env = await client.request(method, path, { ...opts, body });
  if (env.type !== 'async') throw new ApiError(0, `Expected an operation from ${method} ${path}`);
  return new Operation(client, env.operation, opts.project ?? client.project).wait(opts.signal);
}

/** GET .../backups?recursion=1. */
export async function getBackups(client: IncusClient, name: string, opts: CallOptions = {}): Promise<InstanceBackup[]> {
  const env = await client.request('GET', base(name), { ...opts, query: { recursion: 1 } });
  return (env.type === 'sync' ? env.metadata : []) as InstanceBackup[];
}

export async function getBackup(client: IncusClient, name: string, backup: string, opts: CallOptions = {}): Promise<InstanceBackup> {
  const env = await client.request('GET', one(name, backup), opts);
  return (env.type === 'sync' ? env.metadata : {}) as InstanceBackup;
}

/** POST .../backups, waiting for the tarball to be written. */
export async function createBackup(client: IncusClient, name: string, post: InstanceBackupsPost, opts: CallOptions = {}): Promise<void> {
  await waitOp(client, 'POST', base(name), post, opts);
}

export async function renameBackup(client: IncusClient, name: string, backup: string, newName: string, opts: CallOptions = {}): Promise<void> {
  await waitOp(client, 'POST', one(name, backup), { name: newName }, opts);
}

export async function deleteBackup(client: IncusClient, name: string, backup: string, opts: CallOptions = {}): Promise<void> {
  await waitOp(client, 'DELETE', one(name, backup), undefined, opts);
}


/**
 * Streams GET `path` (a backup's export URL) into `file`, or into a stream
 * such as stdout; returns the bytes written. A file half written is removed.
 */
export async function downloadExport(client: IncusClient, path: string, file: string | NodeJS.WritableStream, opts: CallOptions = {}): Promise<number> {
  const project = opts.project ?? client.project;
  const res = await openDownload(client, `${path}${project ? `?project=${seg(project)}` : ''}`, 'Backup download');
  let n = 0;
  res.on('data', (c: Buffer) => (n += c.length));
  try {
    await pipeline(res, typeof file === 'string' ? createWriteStream(file) : file);
  } catch (err) {
    if (typeof file === 'string') await rm(file, { force: true });
    throw err;
  }
  return n;
}

/** Streams GET .../backups/{b}/export into `file`; returns the bytes written. */
export async function downloadBackup(client: IncusClient, name: string, backup: string, file: string, opts: CallOptions = {}): Promise<number> {
  return downloadExport(client, `${one(name, backup)}/export`, file, opts);
}

/**
 * POSTs a backup tarball to `path` as an octet-stream with the X-Incus-*
 * headers given, and waits for the import. `source` is a file path or a
 * stream of the tarball (such as stdin).
 */
export async function uploadBackup(
  client: IncusClient,
  path: string,
  source: string | Readable,
  incusHeaders: Record<string, string | undefined>,
  opts: CallOptions = {},
): Promise<OperationData> {
  if (typeof source === 'string') await access(source, constants.R_OK);
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' };
  for (const [k, v] of Object.entries(incusHeaders)) if (v) headers[`X-Incus-${k}`] = v;
  const env = await client.request('POST', path, { project: opts.project, signal: opts.signal, headers, body: typeof source === 'string' ? createReadStream(source) : source });
  if (env.type !== 'async') throw new ApiError(0, 'Expected an operation from the import');
  return new Operation(client, env.operation, opts.project ?? client.project).wait(opts.signal);
}

/** Imports a backup as a new instance (POST /1.0/instances with X-Incus-name / X-Incus-pool). */
export async function importBackup(client: IncusClient, source: string | Readable, opts: CallOptions & { name?: string; pool?: string } = {}): Promise<OperationData> {
  return uploadBackup(client, '/1.0/instances', source, { name: opts.name, pool: opts.pool }, opts);
}
