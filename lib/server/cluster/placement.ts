/**
 * Where a new instance goes in a cluster (Incus's scheduler): the member
 * `--target` names, else the online member holding the fewest instances
 * among those whose `scheduler.instance` allows automatic placement.
 */
import type { Db } from '../db';
import type { MemberRow } from '../db/members';
import { notFound } from '../errors';
import { inMaintenance } from './evacuate';
import { memberHealth, offlineThresholdOf } from './heartbeat';

/** The member named by `target`; 404 as Incus words it when there is none. */
export async function targetMember(db: Db, target: string): Promise<MemberRow> {
  const m = await db.members.get(target);
  if (!m) throw notFound(`Failed to get cluster member: Cluster member not found`);
  return m;
}

/** The member a new instance is placed on when the client named none. */
export async function pickMember(db: Db): Promise<MemberRow> {
  const [members, counts, config] = await Promise.all([db.members.list(), db.instances.countByNode(), db.config.all()]);
  const threshold = offlineThresholdOf(config);
  let best: MemberRow | null = null;
  for (const m of members) {
    if (inMaintenance(m.state) || memberHealth(m.heartbeat, threshold).status !== 'Online') continue;
    const scheduler = (await db.members.config(m.id))['scheduler.instance'] ?? 'all';
    if (scheduler === 'manual' || scheduler === 'group') continue;
    if (best === null || (counts.get(m.id) ?? 0) < (counts.get(best.id) ?? 0)) best = m;
  }
  if (best === null) throw new Error('No suitable cluster member could be found');
  return best;
}
