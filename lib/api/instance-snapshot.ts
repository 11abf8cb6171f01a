/** Instance snapshots (`/1.0/instances/{name}/snapshots`): wire types with Incus's field names. */
import type { ConfigMap, DevicesMap } from './instance';

/** POST /1.0/instances/{name}/snapshots body. */
export interface InstanceSnapshotsPost {
  name?: string;
  stateful?: boolean;
  /** RFC 3339; absent or null: from `snapshots.expiry`. */
  expires_at?: string | null;
}

/** POST /1.0/instances/{name}/snapshots/{snap} body (rename; migration is not supported). */
export interface InstanceSnapshotPost {
  name?: string;
  migration?: boolean;
  live?: boolean;
  /** Migration in push mode: the target's operation, secrets and certificate. */
  target?: { operation?: string; websockets?: Record<string, string>; certificate?: string } | null;
}

/** The writable part of a snapshot (PUT/PATCH body). */
export interface InstanceSnapshotPut {
  expires_at: string;
}

export interface InstanceSnapshot extends InstanceSnapshotPut {
  architecture: string;
  config: ConfigMap;
  created_at: string;
  description: string;
  devices: DevicesMap;
  ephemeral: boolean;
  expanded_config?: ConfigMap;
  expanded_devices?: DevicesMap;
  last_used_at: string;
  name: string;
  profiles: string[];
  stateful: boolean;
  size: number;
}
