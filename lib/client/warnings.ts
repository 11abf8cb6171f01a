/** Warnings (`/1.0/warnings`): list, read, set the status, delete. Server-wide: no `?project=`. */
import type { Warning, WarningPut } from '../api/warning';
import { IncusClient, type CallOptions } from './client';

const warningPath = (uuid: string): string => `/1.0/warnings/${encodeURIComponent(uuid)}`;

function unscoped(client: IncusClient): IncusClient {
  return client.project === undefined ? client : new IncusClient({ transport: client.transport });
}

async function get<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, string | number> = {}): Promise<T> {
  const env = await unscoped(client).request('GET', path, { signal: opts.signal, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return env.metadata as T;
}

export async function getWarnings(client: IncusClient, opts: CallOptions = {}): Promise<Warning[]> {
  return (await get<Warning[] | null>(client, '/1.0/warnings', opts, { recursion: 1 })) ?? [];
}

export function getWarning(client: IncusClient, uuid: string, opts: CallOptions = {}): Promise<Warning> {
  return get<Warning>(client, warningPath(uuid), opts);
}

export async function updateWarning(client: IncusClient, uuid: string, put: WarningPut, opts: CallOptions = {}): Promise<void> {
  await unscoped(client).request('PUT', warningPath(uuid), { signal: opts.signal, body: put });
}

export async function deleteWarning(client: IncusClient, uuid: string, opts: CallOptions = {}): Promise<void> {
  await unscoped(client).request('DELETE', warningPath(uuid), { signal: opts.signal });
}
