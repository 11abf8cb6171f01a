/**
 * Local instance copy (`POST /1.0/instances` with `source.type: copy`): a new
 * instance with the source's (or a snapshot's) config, devices and profiles,
 * a fresh volatile identity, its volume copied by the pool driver and, unless
 * `instance_only`, its snapshots too. Everything is undone on failure.
 */
import { randomUUID } from 'node:crypto';
import { access } from 'node:fs/promises';
import type { ConfigMap, InstancesPost } from '../../api/instance';
import type { InstanceRecord, NewInstance } from '../db/instances';
import type { SnapshotRecord } from '../db/snapshots';
import type { VolumeRecord } from '../db/storage-pools';
import { badRequest, conflict, notFound, StatusError } from '../errors';
import { Reverter } from '../revert';
import { isTrue, validateInstanceConfig } from './config-keys';
import { missingNicVolatile } from './devices/nic-common';
import { validateDevices } from './devices/validate';
import { rootDisk } from './expand';
import { idmapJson } from './idmap';
import type { InstanceManager } from './manager';
import { generateName, validateInstanceName } from './names';
import { copyInstanceVolume } from './volume-copy';
import { type RootVolumeRows, registerInstance } from './register';
import { allowInstanceCreation } from '../projects/permissions';
import { storageName } from '../storage/volume-names';

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

/** A validated copy request. */
export interface CopyPlan {
  project: string;
  name: string;
  source: InstanceRecord;
  /** Set when copying from one of the source's snapshots. */
  fromSnapshot: SnapshotRecord | null;
  /** Source snapshots to copy along (oldest first). */
  snapshots: SnapshotRecord[];
  record: NewInstance;
  pool: string;
  start: boolean;
  /** A refresh of this existing instance (`source.refresh`). */
  refreshOf: InstanceRecord | null;
  refreshExcludeOlder: boolean;
  /** A refresh leaves the target's snapshots alone. */
  instanceOnly: boolean;
}

/** Whether a source config key travels with a local copy (as Incus decides). */
export function keptWhenCopying(key: string): boolean {
  if (key === 'volatile.base_image' || key === 'volatile.last_state.idmap') return true;
  return !key.startsWith('volatile.');
}

/** Source keys kept for a copy, with the request's keys on top (request wins). */
export function mergeCopyConfig(source: ConfigMap, request: ConfigMap | undefined): ConfigMap {
  const out: ConfigMap = {};
  for (const [k, v] of Object.entries(source)) if (keptWhenCopying(k)) out[k] = v;
  for (const [k, v] of Object.entries(request ?? {})) if (!k.startsWith('volatile.')) out[k] = v;
  return out;
}

/** Validates a copy request (400/404/409) before its operation starts. */
export async function planCopy(m: InstanceManager, project: string, req: InstancesPost): Promise<CopyPlan> {
  const { db } = m.deps;
  const src = req.source?.source ?? '';
  if (!src) throw badRequest('Must specify a source instance');
  const [srcName, snapName] = src.split('/', 2) as [string, string | undefined];
  const source = await m.get(req.source?.project ?? project, srcName);
  let fromSnapshot: SnapshotRecord | null = null;
  if (snapName !== undefined) {
    fromSnapshot = (await db.snapshots.get(source.id, snapName)) ?? null;
    if (!fromSnapshot) throw notFound('Snapshot not found');
  }
  if (req.type && req.type !== source.type) throw badRequest('Instance type should not be specified or should match source type');
  const name = req.name ?? (await generateName(async (n) => (await db.instances.get(project, n)) !== undefined));
  validateInstanceName(name);
  const existing = await db.instances.get(project, name);
  if (existing && req.source?.refresh) return refreshPlan(m, project, req, source, fromSnapshot, existing);
  if (existing) throw conflict(`Instance "${name}" already exists`);

  const base = fromSnapshot ?? source;
  const config = mergeCopyConfig(base.config, req.config);
  validateInstanceConfig(Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.'))));
  const devices = { ...base.devices, ...(req.devices ?? {}) };
  await validateDevices(m.deps, devices, { profile: false });
  const profiles = req.profiles ?? base.profiles;
  if (new Set(profiles).size !== profiles.length) throw badRequest('Duplicate profile found in request');
  const profileProject = await m.profileProject(project);
  for (const p of profiles) if (!(await db.profiles.get(profileProject, p))) throw badRequest(`Profile "${p}" not found`);

  const record: NewInstance = {
    project,
    name,
    type: source.type,
    architecture: base.architecture || source.architecture,
    ephemeral: req.ephemeral ?? false,
    stateful: false,
    description: req.description ?? base.description,
    createdAt: new Date().toISOString(),
    lastUsedAt: '1970-01-01T00:00:00Z',
    config,
    devices,
    profiles,
  };
  const root = rootDisk((await m.expand(record)).expanded_devices);
  if (!root?.pool) throw badRequest('Failed initializing instance: Failed getting root disk: No root device could be found');
  await m.deps.pools.get(root.pool);
  const snapshots = fromSnapshot || req.source?.instance_only ? [] : await db.snapshots.list(source.id);
  await allowInstanceCreation(db, project, record);
  return { project, name, source, fromSnapshot, snapshots, record, pool: root.pool, start: req.start === true, refreshOf: null, refreshExcludeOlder: false, instanceOnly: req.source?.instance_only === true };
}

/** The plan of a refresh of `existing` (Incus refuses one of another type). */
async function refreshPlan(m: InstanceManager, project: string, req: InstancesPost, source: InstanceRecord, fromSnapshot: SnapshotRecord | null, existing: InstanceRecord): Promise<CopyPlan> {
  if (existing.type !== source.type) throw conflict(`Instance "${existing.name}" already exists with a different type`);
  const vol = await m.deps.pools.volumeOf(existing.project, existing.type, existing.name);
  if (!vol) throw new StatusError(500, `Instance "${existing.name}" has no root volume`);
  const snapshots = fromSnapshot || req.source?.instance_only ? [] : await m.deps.db.snapshots.list(source.id);
  const { id: _id, ...record } = existing;
  return {
    project,
    name: existing.name,
    source,
    fromSnapshot,
    snapshots,
    record,
    pool: vol.pool,
    start: req.start === true,
    refreshOf: existing,
    refreshExcludeOlder: req.source?.refresh_exclude_older === true,
    instanceOnly: req.source?.instance_only === true,
  };
}

/**
 * The record's config with a copy's fresh identity: a new UUID, this
 * host's id map, stopped, the "copy" templates due, MAC addresses for NICs
 * that have none.
 */
export async function copyVolatile(m: InstanceManager, plan: { project: string; name: string; record: NewInstance }): Promise<ConfigMap> {
  const privileged = plan.record.type === 'virtual-machine' || isTrue((await m.expand(plan.record)).expanded_config['security.privileged']);
  const config = { ...plan.record.config };
  config['volatile.uuid'] = randomUUID();
  config['volatile.uuid.generation'] = config['volatile.uuid'];
  if (!privileged) {
    const map = idmapJson(m.deps.idmap);
    config['volatile.idmap.base'] = String(m.deps.idmap.uid.hostBase);
    config['volatile.idmap.current'] = map;
    config['volatile.idmap.next'] = map;
  }
  config['volatile.last_state.power'] = 'STOPPED';
  config['volatile.apply_template'] = 'copy';
  Object.assign(config, missingNicVolatile({ project: plan.project, name: plan.name, config }, (await m.expand({ ...plan.record,config })).expanded_devices));
  return config;
}

/** The source root volume's rows a copy keeps (user.* keys and all): its own, or the copied snapshot's, and each snapshot's. */
async function sourceVolumeRows(m: InstanceManager, srcVol: VolumeRecord, plan: CopyPlan): Promise<RootVolumeRows> {
  const row = (snap: string) => m.deps.db.pools.volume(srcVol.pool, srcVol.project, srcVol.type, `${srcVol.name}/${snap}`);
  const base = plan.fromSnapshot ? ((await row(plan.fromSnapshot.name)) ?? srcVol) : srcVol;
  const snapshots = new Map<string, { description: string; config: Record<string, string> }>();
  for (const s of plan.snapshots) {
    const v = await row(s.name);
    if (v) snapshots.set(s.name, { description: v.description, config: v.config });
  }
  return { description: base.description, config: base.config, snapshots };
}

/**
 * Runs a planned copy: rows (instance, volume, snapshots) and volumes, undone
 * together on failure. `identity` gives the new record's config with its
 * volatile keys (a fresh identity unless a move keeps the source's).
 */
export async function runCopy(m: InstanceManager, plan: CopyPlan, identity: (plan: CopyPlan) => Promise<ConfigMap> = (p) => copyVolatile(m, p)): Promise<InstanceRecord> {
  const { db, pools } = m.deps;
  const r = new Reverter();
  try {
    const srcVol = await pools.volumeOf(plan.source.project, plan.source.type, plan.source.name);
    if (!srcVol) throw new StatusError(500, `Instance "${plan.source.name}" has no root volume`);
    const srcPool = await pools.get(srcVol.pool);
    const pool = await pools.get(plan.pool);
    const config = await identity(plan);

    // Volumes first, rows last: a daemon killed mid-copy leaves no half-copied instance listed, only
    // a volume that `admin recover` reports.
    if (await db.instances.get(plan.project,plan.name)) throw conflict(`Instance "${plan.name}" already exists`);
    const src = { sd: pools.driver(srcPool), spec: pools.spec(srcPool), type: plan.source.type, name: storageName(plan.source.project, plan.source.name) };
    const dst = { sd: pools.driver(pool), spec: pools.spec(pool), type: plan.record.type, name: storageName(plan.project, plan.name) };
    if (await exists(dst.sd.volumePath(dst.spec, dst.type, dst.name))) {
      throw conflict(`A volume for "${plan.name}" already exists on pool "${pool.name}" (see incus admin recover)`);
    }
    const srcPath = plan.fromSnapshot
      ? src.sd.snapshotPath(src.spec, src.type, src.name, plan.fromSnapshot.name)
      : src.sd.volumePath(src.spec, src.type, src.name);
    await copyInstanceVolume(
      src,
      srcPath,
      dst,
      plan.snapshots.map((s) => s.name),
      r,
    );
    const snapshots = plan.snapshots.map(({ id: _id, instanceId: _inst, ...snap }) => snap);
    const rows = await sourceVolumeRows(m, srcVol, plan);
    const rec = await registerInstance(m, r, pool, { ...plan.record, config }, snapshots, rows);
    r.success();
    return rec;
  } catch (err) {
    await r.fail();
    throw err;
  }
}
