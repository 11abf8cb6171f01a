/**
 * Managed networks of a cluster, in Incus's two steps (networksPost): each
 * member's own keys first (`network create br --target m1
 * bridge.external_interfaces=...`, the network Pending, nothing brought up),
 * then a create without a target fills the cluster-wide config once, brings
 * the network up here and on each other member (a request it serves locally)
 * and marks it Created. Deleting takes it down on every member.
 */
import type { Network, NetworksPost } from '../../api/network';
import { notifyOthers } from '../cluster/notify-members';
import { NETWORK_CREATED, type NetworkRecord } from '../db/networks';
import { badRequest, conflict, notFound } from '../errors';
import type { DaemonState } from '../state';

/** Incus's node-specific network keys (IsNodeSpecificNetworkConfig). */
const MEMBER_KEYS = new Set(['bgp.ipv4.nexthop', 'bgp.ipv6.nexthop', 'bridge.external_interfaces', 'parent']);
const MEMBER_KEY_RE = /^tunnel\.[^.]+\.(interface|local)$/;
export const isMemberNetworkKey = (key: string): boolean => MEMBER_KEYS.has(key) || MEMBER_KEY_RE.test(key);

/** Network types with member keys (Incus's NodeSpecificConfig); the others are created everywhere at once. */
const MEMBER_CONFIG_TYPES = new Set(['bridge', 'macvlan', 'sriov', 'physical']);

const PROJECT = 'default';
const networkPath = (name: string): string => `/1.0/networks/${encodeURIComponent(name)}`;

function sharedOf(config: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !isMemberNetworkKey(k)));
}

/** `--target`: records one member's keys of a network that is not created yet. */
export async function defineNetworkOnMember(s: DaemonState, post: NetworksPost, target: string): Promise<void> {
  const type = post.type || 'bridge';
  if (!MEMBER_CONFIG_TYPES.has(type)) throw badRequest(`Network type "${type}" does not support member specific config`);
  for (const key of Object.keys(post.config ?? {})) {
    if (!isMemberNetworkKey(key)) throw badRequest(`Config key "${key}" may not be used as member-specific key`);
  }
  if (post.description) throw badRequest('The network description cannot be set for a specific member');
  await s.networks.clusterConfig(post.name, type, {});
  const member = await s.db.members.get(target);
  if (!member) throw notFound('Cluster member not found');
  await s.db.transaction(async (tx) => {
    const n = await tx.networks.get(PROJECT, post.name);
    if (n && n.status !== 'Pending') throw new Error('Network is not in pending state');
    if (n && n.type !== type) throw new Error("Requested network type doesn't match type in existing database record");
    const id = n?.id ?? (await tx.networks.create({ project: PROJECT, name: post.name, type, description: '', config: {}, status: 'Pending' })).id;
    if ((await tx.networks.members(id)).some((m) => m.nodeId === member.id)) {
      throw conflict(`Network "${post.name}" is already defined on member "${target}"`);
    }
    await tx.networks.definePending(id, member.id, post.config ?? {});
  });
}

/** No target: brings a pending network up on every member, then marks it Created. */
export async function createNetworkEverywhere(s: DaemonState, post: NetworksPost): Promise<void> {
  const type = post.type || 'bridge';
  const config = post.config ?? {};
  for (const key of Object.keys(config)) {
    if (isMemberNetworkKey(key)) throw new Error(`Config key "${key}" is cluster member specific`);
  }
  const existing = await s.db.networks.get(PROJECT, post.name);
  if (existing && existing.status === 'Created') throw new Error('The network is already created');
  if (existing && existing.type !== type) {
    throw new Error(`Requested network type "${type}" doesn't match type in existing database record "${existing.type}"`);
  }
  if (!existing) throw new Error('Network not pending on any node (use --target <node> first)');
  const defined = new Set((await s.db.networks.members(existing.id)).map((m) => m.node));
  const missing = (await s.db.members.list()).map((m) => m.name).filter((n) => !defined.has(n));
  if (missing.length > 0) throw new Error(`Network not defined on nodes: ${missing.join(', ')}`);
  const shared = await s.networks.clusterConfig(post.name, type, config);
  // Errored until every member has it up, as Incus marks a create in progress.
  await s.db.transaction((tx) => tx.networks.setShared(existing.id, shared, post.description ?? '', 'Errored'));
  await s.networks.startHere(post.name);
  await notifyOthers(s, 'POST', '/1.0/networks', () => ({ name: post.name, type, config: {} }));
  await s.db.networks.setStatus(existing.id, 'Created');
  s.events.lifecycle('network-created', networkPath(post.name), PROJECT);
}

/** Deletes an unused network on every member: the others first, then here and its rows. */
export async function deleteNetworkEverywhere(s: DaemonState, rec: NetworkRecord): Promise<void> {
  if (rec.clusterPending) {
    await s.db.transaction((tx) => tx.networks.delete(rec.id));
    return;
  }
  if ((await s.networks.usedBy(rec.name)).length > 0) throw badRequest('The network is currently in use');
  await notifyOthers(s, 'DELETE', networkPath(rec.name));
  await s.networks.delete(rec.name);
}

/**
 * The network as a cluster shows it: on the members it is defined on
 * (`locations`), without member keys, or with one member's keys and state
 * when `target` names it.
 */
export async function clusterNetworkView(s: DaemonState, rec: NetworkRecord, api: Network, target?: string): Promise<Network> {
  const members = await s.db.networks.members(rec.id);
  if (members.length === 0) return api;
  const view = { ...api, config: sharedOf(api.config), locations: members.map((m) => m.node) };
  if (target === undefined || target === '') return view;
  if (!(await s.db.members.get(target))) throw notFound('Cluster member not found');
  const mine = members.find((m) => m.node === target);
  return { ...view, config: { ...view.config, ...mine?.config }, status: mine?.state === NETWORK_CREATED ? 'Created' : 'Pending' };
}
