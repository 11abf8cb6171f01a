/**
 * A storage pool's keys that differ from member to member (Incus's
 * NodeSpecificStorageConfig): where each member keeps its copy of the pool.
 * They are stored per member (storage_pools_nodes), the rest once.
 */
export const POOL_MEMBER_KEYS: ReadonlySet<string> = new Set([
  'size',
  'source',
  'source.wipe',
  'volatile.initial_source',
  'zfs.pool_name',
  'lvm.thinpool_name',
  'lvm.vg_name',
  'lvm.vg.force_reuse',
]);

/** The cluster-wide part of a pool's config and this member's part. */
export function splitPoolConfig(config: Record<string, string>): { shared: Record<string, string>; member: Record<string, string> } {
  const shared: Record<string, string> = {};
  const member: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) (POOL_MEMBER_KEYS.has(k) ? member : shared)[k] = v;
  return { shared, member };
}
