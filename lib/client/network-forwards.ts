/** Network forwards (`/1.0/networks/{name}/forwards`): list, read, create, update, delete. */
import type { NetworkForward, NetworkForwardPut, NetworkForwardsPost } from '../api/network-forward';
import type { CallOptions, IncusClient, WithEtag, WriteOptions } from './client';

const forwardsPath = (network: string): string => `/1.0/networks/${encodeURIComponent(network)}/forwards`;
const forwardPath = (network: string, address: string): string => `${forwardsPath(network)}/${encodeURIComponent(address)}`;

async function metadata<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, string | number> = {}): Promise<WithEtag<T>> {
  const env = await client.request('GET', path, { ...opts, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return { value: env.metadata as T, etag: env.etag };
}

/** GET /1.0/networks/{name}/forwards?recursion=1. */
export async function getNetworkForwards(client: IncusClient, network: string, opts: CallOptions = {}): Promise<NetworkForward[]> {
  return (await metadata<NetworkForward[] | null>(client, forwardsPath(network), opts, { recursion: 1 })).value ?? [];
}

export function getNetworkForwardWithEtag(client: IncusClient, network: string, address: string, opts: CallOptions = {}): Promise<WithEtag<NetworkForward>> {
  return metadata<NetworkForward>(client, forwardPath(network, address), opts);
}

export async function createNetworkForward(client: IncusClient, network: string, post: NetworkForwardsPost, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', forwardsPath(network), { ...opts, body: post });
}

/** PUT: replaces description, config and ports. */
export async function updateNetworkForward(client: IncusClient, network: string, address: string, put: NetworkForwardPut, opts: WriteOptions = {}): Promise<void> {
  await client.request('PUT', forwardPath(network, address), { ...opts, body: put });
}

export async function deleteNetworkForward(client: IncusClient, network: string, address: string, opts: CallOptions = {}): Promise<void> {
  await client.request('DELETE', forwardPath(network, address), opts);
}
