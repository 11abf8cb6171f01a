/** Snapshot rows turned into API objects. */
import type { InstanceSnapshot } from '../../api/instance-snapshot';
import type { InstanceRecord } from '../db/instances';
import type { SnapshotRecord } from '../db/snapshots';
import type { InstanceManager, ProfileLookup } from './manager';

/** The snapshot as `/1.0/instances/{name}/snapshots/{snap}` shows it (size unknown: -1); `profiles` from {@link InstanceManager.profileLookup}. */
export function snapshotToApi(m: InstanceManager, rec: InstanceRecord, s: SnapshotRecord, profiles: ProfileLookup): InstanceSnapshot {
  let expanded: Pick<InstanceSnapshot, 'expanded_config' | 'expanded_devices'> = {};
  try {
    expanded = m.expandWith({ project: rec.project, profiles: s.profiles, config: s.config, devices: s.devices }, profiles);
  } catch {
    // A profile deleted since: the snapshot still renders, unexpanded.
  }
  return {
    architecture: s.architecture,
    config: s.config,
    created_at: s.createdAt,
    description: s.description,
    devices: s.devices,
    ephemeral: s.ephemeral,
    ...expanded,
    expires_at: s.expiresAt,
    last_used_at: '0001-01-01T00:00:00Z',
    name: s.name,
    profiles: s.profiles,
    stateful: s.stateful,
    size: -1,
  };
}
