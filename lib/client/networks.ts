/** Networks (`/1.0/networks`): list, read, create, update, rename, delete, state and leases. */
import type { Network, NetworkAllocation, NetworkLease, NetworkPut, NetworkState, NetworksPost } from '../api/network';
import type { CallOptions, IncusClient, WithEtag, WriteOptions } from './client';

const networkPath = (name: string): string => `/1.0/networks/${encodeURIComponent(name)}`;

async function metadata<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, string | number> = {}): Promise<WithEtag<T>> {
  const env = await client.request('GET', path, { ...opts, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return { value: env.metadata as T, etag: env.etag };
}

/** GET /1.0/networks?recursion=1: managed networks and host interfaces (of every project with `allProjects`). */
export async function getNetworks(client: IncusClient, opts: CallOptions & { allProjects?: boolean } = {}): Promise<Network[]> {
  const { allProjects, ...call } = opts;
  const query: Record<string, string | number> = allProjects ? { recursion: 1, 'all-projects': 'true' } : { recursion: 1 };
  return (await metadata<Network[] | null>(client, '/1.0/networks', call, query)).value ?? [];
}

/** GET /1.0/network-allocations: the addresses the managed networks hold. */
export async function getNetworkAllocations(client: IncusClient, opts: CallOptions & { allProjects?: boolean } = {}): Promise<NetworkAllocation[]> {
  const { allProjects, ...call } = opts;
  return (await metadata<NetworkAllocation[] | null>(client, '/1.0/network-allocations', call, allProjects ? { 'all-projects': 'true' } : {})).value ?? [];
}

/** A cluster member's name: its own keys of a network (`?target=`). */
type TargetOptions = CallOptions & { target?: string };
const targetQuery = (target?: string): Record<string, string> => (target ? { target } : {});

export async function getNetwork(client: IncusClient, name: string, opts: TargetOptions = {}): Promise<Network> {
  const { target, ...call } = opts;
  return (await metadata<Network>(client, networkPath(name), call, targetQuery(target))).value;
}

export function getNetworkWithEtag(client: IncusClient, name: string, opts: CallOptions = {}): Promise<WithEtag<Network>> {
  return metadata<Network>(client, networkPath(name), opts);
}

/** POST /1.0/networks. */
/** With `target`, records that member's keys of a network created on every member later. */
export async function createNetwork(client: IncusClient, post: NetworksPost, opts: TargetOptions = {}): Promise<void> {
  const { target, ...call } = opts;
  await client.request('POST', '/1.0/networks', { ...call, body: post, query: targetQuery(target) });
}

/** PUT /1.0/networks/{name}: replaces config and description. */
export async function updateNetwork(client: IncusClient, name: string, put: NetworkPut, opts: WriteOptions = {}): Promise<void> {
  await client.request('PUT', networkPath(name), { ...opts, body: put });
}

/** PATCH /1.0/networks/{name}: merges config keys. */
export async function patchNetwork(client: IncusClient, name: string, patch: Partial<NetworkPut>, opts: WriteOptions = {}): Promise<void> {
  await client.request('PATCH', networkPath(name), { ...opts, body: patch });
}

/** POST /1.0/networks/{name} {name: newName}. */
export async function renameNetwork(client: IncusClient, name: string, newName: string, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', networkPath(name), { ...opts, body: { name: newName } });
}

/** DELETE /1.0/networks/{name} (refused while the network is in use). */
export async function deleteNetwork(client: IncusClient, name: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', networkPath(name), opts);
}

export async function getNetworkState(client: IncusClient, name: string, opts: CallOptions = {}): Promise<NetworkState> {
  return (await metadata<NetworkState>(client, `${networkPath(name)}/state`, opts)).value;
}

export async function getNetworkLeases(client: IncusClient, name: string, opts: CallOptions = {}): Promise<NetworkLease[]> {
  return (await metadata<NetworkLease[] | null>(client, `${networkPath(name)}/leases`, opts)).value ?? [];
}
