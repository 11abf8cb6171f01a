/** Custom volume snapshots to and from the migration header (Incus's VolumeSnapshotToProtobuf and back). */
import type { AdoptedSnapshot } from '../storage/volumes';
import type { ProtoSnapshot } from './proto';

/** Incus sends a volume snapshot's dates in nanoseconds. */
const NS_PER_S = 1_000_000_000;

export interface VolumeSnapshotInfo {
  name: string;
  config: Record<string, string>;
  createdAt: string;
}

export function volumeSnapshotToProto(s: VolumeSnapshotInfo): ProtoSnapshot {
  const created = Date.parse(s.createdAt) * 1_000_000;
  return {
    name: s.name,
    localConfig: Object.entries(s.config).map(([key, value]) => ({ key, value })),
    profiles: [],
    ephemeral: false,
    localDevices: [],
    architecture: 0,
    stateful: false,
    creation_date: created,
    expiry_date: created,
  };
}

/** Seconds since the epoch of a header date (nanoseconds from Incus; seconds accepted too). */
export function protoSeconds(n: number | undefined): number {
  if (!n) return 0;
  return n > 1e14 ? Math.floor(n / NS_PER_S) : n;
}

export function volumeSnapshotFromProto(p: ProtoSnapshot, description: string): AdoptedSnapshot {
  const secs = protoSeconds(p.creation_date);
  return {
    name: p.name,
    description,
    config: Object.fromEntries((p.localConfig ?? []).map((c) => [c.key, c.value])),
    createdAt: secs > 0 ? new Date(secs * 1000).toISOString() : new Date().toISOString(),
  };
}
