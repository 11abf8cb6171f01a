/** Cluster group membership changes (Incus's UpdateNodeClusterGroups and the group routes' member lists). */
import type { Queries } from '../db';
import { notFound } from '../errors';

/** Makes member `nodeId` belong to exactly the groups named in `wanted` (each must exist). */
export async function setMemberGroups(tx: Queries, nodeId: number, current: readonly string[], wanted: readonly string[]): Promise<void> {
  for (const name of new Set(wanted)) {
    const group = await tx.clusterGroups.get(name);
    if (!group) throw notFound('Update cluster groups: Cluster group not found');
    if (!current.includes(name)) await tx.clusterGroups.addMember(nodeId, group.id);
  }
  for (const name of current) {
    if (wanted.includes(name)) continue;
    const group = await tx.clusterGroups.get(name);
    if (group) await tx.clusterGroups.removeMember(nodeId, group.id);
  }
}

/**
 * Makes group `groupId` hold exactly the members named in `wanted` (Incus's
 * clusterGroupPut): a member whose only group this is stays in it, as each
 * member belongs to at least one group.
 */
export async function setGroupMembers(tx: Queries, groupId: number, wanted: readonly string[]): Promise<void> {
  const members = await tx.members.list();
  for (const name of new Set(wanted)) {
    const m = members.find((r) => r.name === name);
    if (!m) throw notFound('Cluster member not found');
    await tx.clusterGroups.addMember(m.id, groupId);
  }
  const current = await tx.clusterGroups.members(groupId);
  for (const name of current) {
    if (wanted.includes(name)) continue;
    const m = members.find((r) => r.name === name)!;
    if ((await tx.clusterGroups.groupsOf(m.id)).length > 1) await tx.clusterGroups.removeMember(m.id, groupId);
  }
}
