/** Cluster groups (`/1.0/cluster/groups`). Server-wide: no `?project=`. */
import type { ClusterGroup, ClusterGroupPut, ClusterGroupsPost } from '../api/cluster-group';
import type { IncusClient, CallOptions, WithEtag, WriteOptions } from './client';
import { read, serverWide } from './cluster';

const groupPath = (name: string): string => `/1.0/cluster/groups/${encodeURIComponent(name)}`;

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
