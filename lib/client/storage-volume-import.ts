/**
 * A custom volume from a file (Incus's CreateStoragePoolVolumeFromISO):
 * POST /1.0/storage-pools/{pool}/volumes/custom with the file as an
 * octet-stream, X-Incus-name and X-Incus-type naming it.
 */
import type { Readable } from 'node:stream';
import type { Operation as OperationData } from '../api/operation';
import type { CallOptions, IncusClient } from './client';
import { ApiError } from './errors';
import { Operation } from './operation';

/** Uploads `body` as the volume `name` of `type` ("iso" or "backup") and waits for the operation. */
export async function importStorageVolume(client: IncusClient, pool: string, name: string, type: 'iso' | 'backup', body: Readable, opts: CallOptions = {}): Promise<OperationData> {
  const headers = { 'Content-Type': 'application/octet-stream', 'X-Incus-name': name, 'X-Incus-type': type };
  const env = await client.request('POST', `/1.0/storage-pools/${encodeURIComponent(pool)}/volumes/custom`, { project: opts.project, signal: opts.signal, headers, body });
  if (env.type !== 'async') throw new ApiError(0, 'Expected an operation from the import');
  return new Operation(client, env.operation, opts.project ?? client.project).wait(opts.signal);
}
