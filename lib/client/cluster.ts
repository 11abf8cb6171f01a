/**
 * Clustering (`/1.0/cluster`, `/1.0/cluster/members`): the cluster's state,
 * enabling it, the members. Server-wide: no `?project=`.
 */
import { type Cluster, type ClusterMember, type ClusterMemberJoinToken, type ClusterMemberPut, type ClusterPut, joinTokenOf } from '../api/cluster';
import type { Operation as OperationData } from '../api/operation';
import { StatusCode } from '../api/response';
import { IncusClient, type CallOptions, type WithEtag, type WriteOptions } from './client';
import type { Operation } from './operation';

const memberPath = (name: string): string => `/1.0/cluster/members/${encodeURIComponent(name)}`;

/** The client without a project (cluster routes are server-wide). */
export function serverWide(client: IncusClient): IncusClient {
  return client.project === undefined ? client : new IncusClient({ transport: client.transport });
}

/** A server-wide GET of a sync response, with its ETag. */
export async function read<T>(client: IncusClient, path: string, opts: CallOptions, query: Record<string, string | number> = {}): Promise<WithEtag<T>> {
  const env = await serverWide(client).request('GET', path, { signal: opts.signal, query });
  if (env.type !== 'sync') throw new Error(`Expected a sync response from GET ${path}`);
  return { value: env.metadata as T, etag: env.etag };
}

export function getCluster(client: IncusClient, opts: CallOptions = {}): Promise<WithEtag<Cluster>> {
  return read<Cluster>(client, '/1.0/cluster', opts);
}

/** PUT /1.0/cluster: enabling on a standalone server bootstraps a cluster (an operation). */
export function updateCluster(client: IncusClient, put: ClusterPut, opts: WriteOptions = {}): Promise<Operation> {
  return operation(client, 'PUT', '/1.0/cluster', put, opts);
}

async function operation(client: IncusClient, method: 'PUT' | 'POST', path: string, body: unknown, opts: WriteOptions): Promise<Operation> {
  const c = serverWide(client);
  const env = await c.request(method, path, { signal: opts.signal, body, etag: opts.etag });
  if (env.type !== 'async') throw new Error(`Expected an operation from ${method} ${path}, got a ${env.type} response`);
  const { Operation: Handle } = require('./operation') as typeof import('./operation');
  return new Handle(c, env.operation);
}

/** POST /1.0/cluster/members: a join token operation for a new member's name. */
export function createClusterMember(client: IncusClient, serverName: string, opts: CallOptions = {}): Promise<Operation> {
  return operation(client, 'POST', '/1.0/cluster/members', { server_name: serverName }, opts);
}

/** Pending join tokens: running `token` operations of the default project that carry one. */
export async function getClusterJoinTokens(client: IncusClient, opts: CallOptions = {}): Promise<{ op: OperationData; token: ClusterMemberJoinToken }[]> {
  const out: { op: OperationData; token: ClusterMemberJoinToken }[] = [];
  for (const op of await client.getOperations({ project: 'default', signal: opts.signal })) {
    if (op.class !== 'token' || op.status_code !== StatusCode.Running) continue;
    const token = joinTokenOf(op.metadata);
    if (token) out.push({ op, token });
  }
  return out;
}

export async function getClusterMembers(client: IncusClient, opts: CallOptions = {}): Promise<ClusterMember[]> {
  return (await read<ClusterMember[] | null>(client, '/1.0/cluster/members', opts, { recursion: 1 })).value ?? [];
}

export async function getClusterMember(client: IncusClient, name: string, opts: CallOptions = {}): Promise<ClusterMember> {
  return (await read<ClusterMember>(client, memberPath(name), opts)).value;
}

export function getClusterMemberWithEtag(client: IncusClient, name: string, opts: CallOptions = {}): Promise<WithEtag<ClusterMember>> {
  return read<ClusterMember>(client, memberPath(name), opts);
}

/** PUT /1.0/cluster/members/{name}: the member's description, config, roles, failure domain and groups. */
export async function updateClusterMember(client: IncusClient, name: string, put: ClusterMemberPut, opts: WriteOptions = {}): Promise<void> {
  await serverWide(client).request('PUT', memberPath(name), { signal: opts.signal, body: put, etag: opts.etag });
}

/** POST /1.0/cluster/members/{name}: renames the member. */
export async function renameClusterMember(client: IncusClient, name: string, newName: string, opts: CallOptions = {}): Promise<void> {
  await serverWide(client).request('POST', memberPath(name), { signal: opts.signal, body: { server_name: newName } });
}

/** GET /1.0/cluster/members/{name}/state: the member's system figures and pool usage. */
export async function getClusterMemberState(client: IncusClient, name: string, opts: CallOptions = {}): Promise<Record<string, unknown>> {
  return (await read<Record<string, unknown>>(client, `${memberPath(name)}/state`, opts)).value;
}

/** POST /1.0/cluster/members/{name}/state: evacuate or restore a member (mode: the evacuation action, '' for each instance's own). */
export function updateClusterMemberState(client: IncusClient, name: string, action: 'evacuate' | 'restore', mode = '', opts: CallOptions = {}): Promise<Operation> {
  return operation(client, 'POST', `${memberPath(name)}/state`, { action, mode }, opts);
}

/** DELETE /1.0/cluster/members/{name}: removes the member (force: even holding instances or unreachable). */
export async function deleteClusterMember(client: IncusClient, name: string, force = false, opts: CallOptions = {}): Promise<void> {
  await serverWide(client).request('DELETE', memberPath(name), { signal: opts.signal, query: force ? { force: 1 } : {} });
}
