/**
 * What a member that just joined sets up locally (Incus's clusterInitMember
 * and the pool/network creation its join does): the cluster's storage pools
 * on its own disks, with the member_config keys the join gave (`source`,
 * `size`) or the driver's defaults, and the cluster's managed networks.
 */
import type { ClusterMemberConfigKey } from '../../api/cluster';
import type { DaemonState } from '../state';

/** The member_config entries for one entity, as a config map. */
function configFor(entries: ClusterMemberConfigKey[], entity: string, name: string): Record<string, string> {
  return Object.fromEntries(entries.filter((e) => e.entity === entity && e.name === name).map((e) => [e.key, e.value]));
}

export async function createJoinedResources(s: DaemonState, memberConfig: ClusterMemberConfigKey[]): Promise<void> {
  for (const p of await s.pools.list()) {
    // A pending pool is created on every member at once later (its second `storage create`).
    if (p.onMember || p.status === 'Pending') continue;
    try {
      await s.pools.createOnMember(p, configFor(memberConfig, 'storage-pool', p.name));
    } catch (err) {
      throw new Error(`Failed to create storage pool "${p.name}" on this member: ${(err as Error).message}`);
    }
  }
  await s.networks.startAll();
}
