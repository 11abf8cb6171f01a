/**
 * Storage pools of a cluster, in Incus's two steps (storagePoolsPost): each
 * member's own keys are recorded first (`--target m1 source=...`, the pool
 * Pending, nothing on disk), then a create without a target makes the pool on
 * every member (here, then on each other member through a request it serves
 * locally) and marks it Created. Deleting removes it from every member.
 */
import type { StoragePool } from '../../api/storage-pool';
import { createdPerMember, notifyOthers } from '../cluster/notify-members';
import { POOL_CREATED, type PoolRecord } from '../db/storage-pools';
import { POOL_MEMBER_KEYS, splitPoolConfig } from '../db/pool-member-keys';
import { badRequest, notFound } from '../errors';
import { validatePoolName } from '../names';
import type { DaemonState } from '../state';
import { loadStorageDriver } from './load';
import { checkCommonPoolKeys } from './pool-keys';

export interface PoolCreate {
  name: string;
  driver: string;
  config: Record<string, string>;
  description: string;
}

const poolPath = (name: string): string => `/1.0/storage-pools/${encodeURIComponent(name)}`;

/**
 * POST /1.0/storage-pools on a cluster member: another member's request
 * creates the pool here only, `--target` records a member's keys, a create
 * without one makes it everywhere. False: a one-member cluster creates it as
 * a standalone host does.
 */
export async function createPoolInCluster(s: DaemonState, req: PoolCreate, target: string | undefined, byMember: boolean): Promise<boolean> {
  if (byMember) await createPoolHere(s, req);
  else if (target) await definePoolOnMember(s, req, target);
  else if (await createdPerMember(s, (await s.db.pools.get(req.name))?.status)) await createPoolEverywhere(s, req);
  else return false;
  return true;
}

/** `--target`: records one member's keys of a pool that is not created yet. */
export async function definePoolOnMember(s: DaemonState, req: PoolCreate, target: string): Promise<void> {
  for (const key of Object.keys(req.config)) {
    if (!POOL_MEMBER_KEYS.has(key)) throw new Error(`Config key "${key}" may not be used as member-specific key`);
  }
  if (req.description !== '') throw badRequest('The storage pool description cannot be set for a specific member');
  validatePoolName(req.name);
  loadStorageDriver(req.driver);
  const member = await s.db.members.get(target);
  if (!member) throw notFound('Cluster member not found');
  await s.db.transaction(async (tx) => {
    const p = await tx.pools.get(req.name);
    if (p && p.driver !== req.driver) throw new Error('Storage pool already exists with a different driver');
    if (p && p.status !== 'Pending') throw new Error('Storage pool is not in pending state');
    const id = p?.id ?? (await tx.pools.insertPending(req.name, req.driver));
    if ((await tx.pools.members(id)).some((m) => m.nodeId === member.id)) {
      throw badRequest(`The storage pool already defined on member "${target}"`);
    }
    await tx.pools.definePending(id, member.id, req.config);
  });
}

/** No target: creates a pending pool on every member with its own keys, then marks it Created. */
export async function createPoolEverywhere(s: DaemonState, req: PoolCreate): Promise<void> {
  for (const key of Object.keys(req.config)) {
    if (POOL_MEMBER_KEYS.has(key)) throw new Error(`Config key "${key}" is cluster member specific`);
  }
  const existing = await s.db.pools.get(req.name);
  if (existing?.status === 'Created') throw new Error('The storage pool is already created');
  if (existing && existing.driver !== req.driver) {
    throw new Error(`Requested storage pool driver "${req.driver}" doesn't match driver in existing database record "${existing.driver}"`);
  }
  if (!existing) throw new Error('Pool not pending on any node (use --target <node> first)');
  checkCommonPoolKeys(req.config);
  const defined = new Map((await s.db.pools.members(existing.id)).map((m) => [m.node, m.config]));
  const missing = (await s.db.members.list()).map((m) => m.name).filter((n) => !defined.has(n));
  if (missing.length > 0) throw new Error(`Pool not defined on nodes: ${missing.join(', ')}`);
  // Errored until every member has it, as Incus marks a create in progress.
  await s.db.transaction((tx) => tx.pools.setShared(existing.id, req.config, req.description, 'Errored'));
  const pool = (await s.db.pools.get(req.name))!;
  await s.pools.createOnMember(pool, defined.get(s.cluster.serverName) ?? {});
  await notifyOthers(s, 'POST', '/1.0/storage-pools', (member) => ({ ...req, config: { ...req.config, ...defined.get(member) } }));
  await s.db.transaction((tx) => tx.pools.setStatus(existing.id, 'Created'));
  s.events.lifecycle('storage-pool-created', poolPath(req.name));
}

/** Another member's request: the pool on this member's own disk, with the keys it sent. */
export async function createPoolHere(s: DaemonState, req: PoolCreate): Promise<void> {
  const p = await s.pools.get(req.name);
  if (p.onMember) return;
  await s.pools.createOnMember(p, splitPoolConfig(req.config).member);
}

/** Deletes an unused pool on every member: the others first, then here and its rows. */
export async function deletePoolEverywhere(s: DaemonState, p: PoolRecord): Promise<void> {
  if (p.status === 'Pending') {
    await s.db.transaction((tx) => tx.pools.delete(p.id));
    return;
  }
  await s.pools.checkUnused(p);
  await notifyOthers(s, 'DELETE', poolPath(p.name));
  if (p.onMember) await s.pools.delete(p);
  else await s.db.transaction((tx) => tx.pools.delete(p.id));
}

/**
 * The pool as a cluster shows it: on the members it is defined on
 * (`locations`), without member keys, or with one member's keys and state
 * when `target` names it (Incus's member-specific view).
 */
export async function clusterPoolView(s: DaemonState, p: PoolRecord, api: StoragePool, target?: string): Promise<StoragePool> {
  const members = await s.db.pools.members(p.id);
  const shared = splitPoolConfig(api.config).shared;
  const view = { ...api, config: shared, locations: members.map((m) => m.node) };
  if (target === undefined || target === '') return view;
  if (!(await s.db.members.get(target))) throw notFound('Cluster member not found');
  const mine = members.find((m) => m.node === target);
  return { ...view, config: { ...shared, ...mine?.config }, status: mine?.state === POOL_CREATED ? 'Created' : 'Pending' };
}
