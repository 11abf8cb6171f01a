/** Instance records turned into API objects, with runtime state read in one batch. */
import type { Instance, InstanceFull } from '../../api/instance';
import type { InstanceState } from '../../api/instance-state';
import type { InstanceRecord } from '../db/instances';
import type { RuntimeState } from './interface';
import type { SnapshotRecord } from '../db/snapshots';
import type { InstanceManager, ProfileLookup } from './manager';
import { nicHostNames } from './devices/nic-common';
import { snapshotToApi } from './snapshot-views';

export function instanceUrl(rec: Pick<InstanceRecord, 'name' | 'project'>): string {
  return `/1.0/instances/${rec.name}${rec.project === 'default' ? '' : `?project=${rec.project}`}`;
}

/** Expanded config and devices, as {@link InstanceManager.expand} returns them. */
type Expanded = Awaited<ReturnType<InstanceManager['expand']>>;

/** The instance as the API shows it; `ctx` (see {@link listContext}) holds the profiles it expands with. */
export function toInstance(m: InstanceManager, rec: InstanceRecord, st: RuntimeState, ctx: ListContext | Expanded): Instance {
  const e = 'profiles' in ctx && typeof ctx.profiles === 'function' ? m.expandWith(rec, ctx.profiles) : (ctx as Expanded);
  return {
    architecture: rec.architecture,
    config: rec.config,
    devices: rec.devices,
    ephemeral: rec.ephemeral,
    profiles: rec.profiles,
    stateful: rec.stateful,
    description: rec.description,
    created_at: rec.createdAt,
    expanded_config: e.expanded_config,
    expanded_devices: e.expanded_devices,
    name: rec.name,
    status: st.status,
    status_code: st.statusCode,
    last_used_at: rec.lastUsedAt,
    location: rec.location || 'none',
    type: rec.type,
    project: rec.project,
  };
}

/** The host-side names of the instance's NICs, for the state's network section. */
export function hostNamesOf(rec: InstanceRecord, e: Expanded): Record<string, string> {
  return nicHostNames({ project: rec.project, name: rec.name, type: rec.type, expandedConfig: e.expanded_config, expandedDevices: e.expanded_devices });
}

export function toState(st: RuntimeState, hostNames: Record<string, string> = {}): InstanceState {
  return {
    status: st.status,
    status_code: st.statusCode,
    disk: st.disk ?? {},
    memory: {
      usage: st.memoryUsage,
      usage_peak: st.memoryPeak,
      total: st.memoryTotal ?? 0,
      swap_usage: st.swapUsage,
      swap_usage_peak: st.swapPeak,
    },
    network: st.network
      ? Object.fromEntries(Object.entries(st.network).map(([n, i]) => [n, { ...i, host_name: hostNames[n] ?? i.host_name }]))
      : null,
    pid: st.pid > 0 ? st.pid : 0,
    processes: st.pid > 0 ? st.processes : 0,
    cpu: { usage: st.cpuUsage, allocated_time: st.cpuAllocatedTime ?? 0 },
    started_at: st.pid > 0 && st.startedAt ? st.startedAt : '0001-01-01T00:00:00Z',
    os_info: null,
    ...(st.accelerator ? { accelerator: st.accelerator } : {}),
  };
}

/**
 * What rendering instances in one request shares, read before rendering:
 * each profile project's profiles once, and (for full views) the snapshots
 * in one query, so that rendering itself is synchronous.
 */
export interface ListContext {
  profiles: ProfileLookup;
  snapshotsOf(instanceId: number): SnapshotRecord[];
}

/** The context for rendering `recs`; `full` also reads their snapshots (recursion=2 views). */
export async function listContext(m: InstanceManager, recs: readonly InstanceRecord[], full: boolean): Promise<ListContext> {
  const profiles = await m.profileLookup(recs.map((r) => r.project));
  let snapshots = new Map<number, SnapshotRecord[]>();
  if (full && recs.length === 1) snapshots.set(recs[0].id, await m.deps.db.snapshots.list(recs[0].id));
  else if (full && recs.length > 1) snapshots = await m.deps.db.snapshots.byInstance();
  return { profiles, snapshotsOf: (id) => snapshots.get(id) ?? [] };
}

export function toInstanceFull(m: InstanceManager, rec: InstanceRecord, st: RuntimeState, ctx: ListContext): InstanceFull {
  const snaps = ctx.snapshotsOf(rec.id).map((x) => snapshotToApi(m, rec, x, ctx.profiles));
  // One expansion serves both halves.
  const e = m.expandWith(rec, ctx.profiles);
  return {
    ...toInstance(m, rec, st, e),
    state: toState(st, st.network ? hostNamesOf(rec, e) : {}),
    snapshots: snaps.length > 0 ? snaps : null,
    backups: null,
  };
}
