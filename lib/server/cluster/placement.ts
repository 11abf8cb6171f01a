/**
 * Where a new instance goes in a cluster (Incus's scheduler): the member
 * `--target` names, else the online member holding the fewest instances
 * among those whose `scheduler.instance` allows automatic placement (of a
 * cluster group when `--target @group`).
 */
import type { Db } from '../db';
import type { MemberRow } from '../db/members';
import { badRequest, notFound } from '../errors';
import { inMaintenance } from './member-state';
import { memberHealth, offlineThresholdOf } from './heartbeat';

/** The member named by `target`; 404 as Incus words it when there is none. */
export async function targetMember(db: Db, target: string): Promise<MemberRow> {
  const m = await db.members.get(target);
  if (!m) throw notFound(`Failed to get cluster member: Cluster member not found`);
  return m;
}

/** How long a placement counts before its instance is expected to be in the database. */
const RECENT_MS = 5_000;

/**
 * Placements this member made lately, by node id: a burst of creations
 * (8 at a time) would otherwise all see the same counts and go to one member.
 */
const recent = new Map<number, number[]>();

function recentCount(nodeId: number, now: number): number {
  const times = (recent.get(nodeId) ?? []).filter((t) => now - t < RECENT_MS);
  recent.set(nodeId, times);
  return times.length;
}

/**
 * The member a new instance is placed on when the client named none, or
 * named a cluster group (`@group`): then only that group's members count,
 * those with `scheduler.instance=group` included (Incus's GetCandidateMembers).
 * `exclude`: members left out (an evacuation's own).
 */
export async function pickMember(db: Db, { group = '', exclude = [] }: { group?: string; exclude?: readonly number[] } = {}): Promise<MemberRow> {
  const groupRow = group === '' ? undefined : await db.clusterGroups.get(group);
  if (group !== '' && !groupRow) throw badRequest(`Cluster group ${JSON.stringify(group)} doesn't exist`);
  const [all, dbCounts, config, inGroup] = await Promise.all([db.members.list(), db.instances.countByNode(), db.config.all(), groupRow ? db.clusterGroups.members(groupRow.id) : null]);
  const members = inGroup ? all.filter((m) => inGroup.includes(m.name)) : all;
  const schedulers = await Promise.all(members.map(async (m) => (await db.members.config(m.id))['scheduler.instance'] ?? 'all'));
  // From here on nothing awaits: concurrent placements each see the ones made before them.
  const threshold = offlineThresholdOf(config);
  const now = Date.now();
  let best: MemberRow | null = null;
  let bestCount = Infinity;
  for (const [i, m] of members.entries()) {
    if (inMaintenance(m.state) || memberHealth(m.heartbeat, threshold).status !== 'Online') continue;
    if (schedulers[i] === 'manual' || (schedulers[i] === 'group' && !inGroup) || exclude.includes(m.id)) continue;
    const n = (dbCounts.get(m.id) ?? 0) + recentCount(m.id, now);
    if (n < bestCount) {
      best = m;
      bestCount = n;
    }
  }
  if (best === null) throw new Error('No suitable cluster member could be found');
  recent.set(best.id, [...(recent.get(best.id) ?? []), now]);
  return best;
}
