/** Cluster groups (`/1.0/cluster/groups`). Server-wide: no `?project=`. */
import type { ClusterGroup, ClusterGroupPut, ClusterGroupsPost } from '../api/cluster-group';
import { IncusClient, type CallOptions, type WithEtag, type WriteOptions } from './client';

const groupPath = (name: string): string => `/1.0/cluster/groups/${encodeURIComponent(name)}`;

function serverWide(client: IncusClient): IncusClient {
  return client.project === undefined ? client : new IncusClient({ transport: client.transport });
}

async function read<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, number> = {}): Promise<WithEtag<T>> {
  const env = await serverWide(client).request('GET', path, { signal: opts.signal, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return { value: env.metadata as T, etag: env.etag };
}

export async function getClusterGroups(client: IncusClient, opts: CallOptions = {}): Promise<ClusterGroup[]> {
  return (await read<ClusterGroup[] | null>(client, '/1.0/cluster/groups', opts, { recursion: 1 })).value ?? [];
}

export function getClusterGroup(client: IncusClient, name: string, opts: CallOptions = {}): Promise<WithEtag<ClusterGroup>> {
  return read<ClusterGroup>(client, groupPath(name), opts);
}

export async function createClusterGroup(client: IncusClient, group: ClusterGroupsPost, opts: CallOptions = {}): Promise<void> {
  await serverWide(client).request('POST', '/1.0/cluster/groups', { signal: opts.signal, body: group });
}

export async function updateClusterGroup(client: IncusClient, name: string, put: ClusterGroupPut, opts: WriteOptions = {}): Promise<void> {
  await serverWide(client).request('PUT', groupPath(name), { signal: opts.signal, body: put, etag: opts.etag });
}

export async function renameClusterGroup(client: IncusClient, name: string, newName: string, opts: CallOptions = {}): Promise<void> {
  await serverWide(client).request('POST', groupPath(name), { signal: opts.signal, body: { name: newName } });
}

export async function deleteClusterGroup(client: IncusClient, name: string, opts: CallOptions = {}): Promise<void> {
  await serverWide(client).request('DELETE', groupPath(name), { signal: opts.signal });
}
