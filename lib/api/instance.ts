/** Instances (`/1.0/instances`): wire types with Incus's field names. */
import type { InstanceState } from './instance-state';

export type ConfigMap = Record<string, string>;
export type DeviceConfig = Record<string, string>;
export type DevicesMap = Record<string, DeviceConfig>;
export type InstanceType = 'container' | 'virtual-machine';

/** The writable part of an instance (PUT body). */
export interface InstancePut {
  architecture: string;
  config: ConfigMap;
  devices: DevicesMap;
  ephemeral: boolean;
  profiles: string[];
  stateful: boolean;
  description: string;
  restore?: string;
}

export interface Instance extends InstancePut {
  created_at: string;
  expanded_config: ConfigMap;
  expanded_devices: DevicesMap;
  name: string;
  status: string;
  status_code: number;
  last_used_at: string;
  location: string;
  type: InstanceType;
  project: string;
}

/** `recursion=2`: the instance with its state, snapshots and backups. */
export interface InstanceFull extends Instance {
  state: InstanceState | null;
  snapshots: unknown[] | null;
  backups: unknown[] | null;
}

export interface InstanceSource {
  type: 'image' | 'none' | 'copy' | 'migration' | '';
  alias?: string;
  fingerprint?: string;
  properties?: Record<string, string>;
  server?: string;
  protocol?: string;
  secret?: string;
  certificate?: string;
  source?: string;
  mode?: string;
  project?: string;
  'base-image'?: string;
  allow_inconsistent?: boolean;
  /** Copy: without the source's snapshots. */
  instance_only?: boolean;
  /** Copy or migration: update an existing target instead. */
  refresh?: boolean;
  /** Refresh: leave out source snapshots older than the target's newest. */
  refresh_exclude_older?: boolean;
  /** Migration: the source's operation URL (pull mode). */
  operation?: string;
  /** Migration: connection name to secret (pull mode). */
  websockets?: Record<string, string>;
  /** Migration: a stateful (CRIU) transfer. */
  live?: boolean;
}

/** POST /1.0/instances body. */
export interface InstancesPost extends Partial<InstancePut> {
  name?: string;
  source?: InstanceSource;
  type?: InstanceType | '';
  instance_type?: string;
  start?: boolean;
}

/** Where a migration source connects (push mode): the target's operation, secrets and certificate. */
export interface InstancePostTarget {
  certificate?: string;
  operation?: string;
  websockets?: Record<string, string>;
}

/** POST /1.0/instances/{name} body: a rename, or the source side of a migration. */
/** `POST /1.0/instances/{name}/rebuild`: the new source (`image`, or `none` for an empty root). */
export interface InstanceRebuildPost {
  source: InstanceSource;
}

export interface InstancePost {
  name?: string;
  migration?: boolean;
  live?: boolean;
  instance_only?: boolean;
  container_only?: boolean;
  allow_inconsistent?: boolean;
  target?: InstancePostTarget | null;
  pool?: string;
  project?: string;
  /** Incremental transfer (instance_refresh_migration). */
  refresh?: boolean;
  /** Overrides for a move (instance_move_config). */
  profiles?: string[];
  config?: ConfigMap;
  devices?: DevicesMap;
}
