/** Snapshot rows to and from the migration header's Snapshot messages (Incus's SnapshotToProtobuf and back). */
import type { NewSnapshot, SnapshotRecord } from '../db/snapshots';
import { NO_EXPIRY } from '../db/snapshots';
import { architectureId, architectureName } from './arch';
import type { ProtoConfig, ProtoSnapshot } from './proto';

const pairs = (m: Record<string, string>): ProtoConfig[] => Object.entries(m).map(([key, value]) => ({ key, value }));
const unpairs = (xs: ProtoConfig[] | undefined): Record<string, string> => Object.fromEntries((xs ?? []).map((c) => [c.key, c.value]));
/** Go's zero time, as Incus sends an unset date. */
const ZERO_UNIX = -62135596800;
const toUnix = (iso: string): number => Math.floor(Date.parse(iso) / 1000);
const fromUnix = (n: number | undefined): string | null => (n === undefined || n === 0 || n === ZERO_UNIX ? null : new Date(n * 1000).toISOString().replace('.000Z', 'Z'));

export function snapshotToProto(s: SnapshotRecord): ProtoSnapshot {
  return {
    name: s.name,
    localConfig: pairs(s.config),
    profiles: s.profiles,
    ephemeral: s.ephemeral,
    localDevices: Object.entries(s.devices).map(([name, d]) => ({ name, config: pairs(d) })),
    architecture: architectureId(s.architecture),
    stateful: s.stateful,
    creation_date: toUnix(s.createdAt),
    last_used_date: ZERO_UNIX,
    expiry_date: s.expiresAt === NO_EXPIRY ? ZERO_UNIX : toUnix(s.expiresAt),
  };
}

/** A snapshot row for the target; `fallbackArch` when the header's number is unknown. */
export function snapshotFromProto(p: ProtoSnapshot, fallbackArch: string, description = ''): Omit<NewSnapshot, 'instanceId'> {
  return {
    name: p.name,
    createdAt: fromUnix(p.creation_date) ?? new Date().toISOString(),
    expiresAt: fromUnix(p.expiry_date) ?? NO_EXPIRY,
    stateful: false,
    description,
    architecture: architectureName(p.architecture) || fallbackArch,
    ephemeral: p.ephemeral === true,
    config: unpairs(p.localConfig),
    devices: Object.fromEntries((p.localDevices ?? []).map((d) => [d.name, unpairs(d.config)])),
    profiles: p.profiles ?? [],
  };
}

/**
 * Which source snapshots a refresh sends and which target snapshots it
 * deletes (Incus's CompareSnapshots): same name and creation time means
 * already there; with excludeOlder, missing source snapshots not newer than
 * the target's newest kept one are left out.
 */
export function compareSnapshots(
  source: readonly { name: string; created: number }[],
  target: readonly { name: string; created: number }[],
  excludeOlder: boolean,
): { sync: string[]; remove: string[] } {
  const src = new Map(source.map((s) => [s.name, s]));
  const tgt = new Map(target.map((t) => [t.name, t]));
  const remove: string[] = [];
  let newest = Number.NEGATIVE_INFINITY;
  for (const t of target) {
    const s = src.get(t.name);
    if (!s || s.created !== t.created) remove.push(t.name);
    else newest = Math.max(newest, t.created);
  }
  const sync = source
    .filter((s) => {
      const t = tgt.get(s.name);
      return t ? t.created !== s.created : !excludeOlder || s.created > newest;
    })
    .map((s) => s.name);
  return { sync, remove };
}
