/**
 * Imports an instance from a backup tarball (Incus's layout, see
 * backup-tarball.ts; optimized ones by the pool's driver, see
 * backup-optimized.ts): the whole archive is read and checked before
 * anything is made, then the volume and its snapshots, then the rows; any
 * failure undoes all of it, so a bad file leaves nothing half-imported.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { DevicesMap, Instance } from '../../api/instance';
import type { BackupIndex } from '../../api/instance-backup';
import type { InstanceSnapshot } from '../../api/instance-snapshot';
import type { InstanceRecord, NewInstance } from '../db/instances';
import { NO_EXPIRY } from '../db/snapshots';
import { badRequest, conflict, StatusError } from '../errors';
import { Reverter } from '../revert';
import { checkOptimizedImport, isOptimized, optimizedFiles, tarSource } from './backup-optimized';
import { extractPart, INSTANCE_PARTS, listBackupMembers, readBackupIndex, type TarballParts } from './backup-tarball';
import type { PoolSpec, StorageDriver, VolumeType } from '../storage/interface';
import { validateInstanceConfig } from './config-keys';
import { validateDevices } from './devices/validate';
import { rootDisk } from './expand';
import type { InstanceManager } from './manager';
import { validateInstanceName, validateInstanceSnapshotName } from '../names';
import { type RootVolumeRows, registerInstance } from './register';
import { allowInstanceCreation } from '../projects/permissions';
import { storageName } from '../storage/volume-names';

/** A checked import, ready to run. */
export interface ImportPlan {
  file: string;
  pool: string;
  record: NewInstance;
  snapshots: InstanceSnapshot[];
  /** The root volume's description and config as exported, and its snapshots'. */
  volume: RootVolumeRows;
  /** An optimized backup: the tarball's members (for the driver's source); null for a normal one. */
  optimized: ReadonlySet<string> | null;
}

/** The volume rows' description and config the index carries (none in older files). */
function volumeRowsOf(idx: BackupIndex): RootVolumeRows {
  const v = idx.config?.volume;
  const snaps = (idx.config?.volume_snapshots ?? []).filter((s) => s && typeof s.name === 'string');
  return {
    description: typeof v?.description === 'string' ? v.description : '',
    config: { ...(v?.config ?? {}) },
    snapshots: new Map(snaps.map((s) => [s.name, { description: s.description ?? '', config: { ...(s.config ?? {}) } }])),
  };
}

/**
 * The instance row a backup's (or backup.yaml's) `container` section
 * describes, as a stopped container under `project`/`name`; config and
 * profiles as the caller settled them.
 */
export function recordFromBackup(
  c: Instance,
  project: string,
  name: string,
  o: { config: Record<string, string>; profiles: string[]; lastUsedAt: string },
): NewInstance {
  return {
    project,
    name,
    type: 'container',
    architecture: c.architecture || 'x86_64',
    ephemeral: c.ephemeral === true,
    stateful: false,
    description: c.description ?? '',
    createdAt: c.created_at || new Date().toISOString(),
    lastUsedAt: o.lastUsedAt,
    config: o.config,
    devices: c.devices ?? {},
    profiles: o.profiles,
  };
}

/**
 * index.yaml parsed, with a name and the config section `part` (container,
 * volume) that an import of its kind needs; a 400 otherwise.
 */
export function parseIndexYaml(text: string, part: 'container' | 'volume', what: string): BackupIndex {
  let idx: unknown;
  try {
    idx = parse(text);
  } catch (err) {
    throw badRequest(`Invalid backup file: bad index.yaml: ${(err as Error).message}`);
  }
  const i = idx as Partial<BackupIndex> | null;
  if (!i || typeof i !== 'object' || typeof i.name !== 'string' || !i.config?.[part]) {
    throw badRequest(`Invalid backup file: index.yaml lacks the ${what} name or config`);
  }
  return i as BackupIndex;
}

/** The index parsed and checked for what an import needs; a 400 otherwise. */
export function parseBackupIndex(text: string): BackupIndex {
  const i = parseIndexYaml(text, 'container', 'instance');
  if (i.type && i.type !== 'container') throw badRequest(`Backups of type "${i.type}" are not supported on this server`);
  return i as BackupIndex;
}

/** Points the instance at `pool`: its own root disk changed, or one added over the profiles' one. */
async function rootOnPool(m: InstanceManager, rec: NewInstance, pool: string): Promise<DevicesMap> {
  const devices = { ...rec.devices };
  const own = Object.entries(devices).find(([, d]) => d.type === 'disk' && d.path === '/');
  if (own) devices[own[0]] = { ...own[1], pool };
  else if (rootDisk((await m.expand(rec)).expanded_devices)?.pool !== pool) devices.root = { type: 'disk', path: '/', pool };
  return devices;
}

/** Reads and checks the whole file, then works out the record (400/409 before any change). */
export async function planImport(m: InstanceManager, project: string, file: string, opts: { name?: string; pool?: string }): Promise<ImportPlan> {
  const { db, pools } = m.deps;
  const members = new Set((await listBackupMembers(file)).map((n) => n.replace(/\/$/, '')));
  const idx = parseBackupIndex(await readBackupIndex(file));
  const optimized = isOptimized(idx, members, INSTANCE_PARTS);
  if (!optimized && !members.has('backup/container')) throw badRequest('Invalid backup file: no backup/container in the archive');
  // Names from the file become paths: checked as the API would check them (Incus does the same on import).
  for (const s of idx.snapshots ?? []) {
    if (typeof s !== 'string') throw badRequest('Invalid backup file: a snapshot name is not a string');
    validateInstanceSnapshotName(s);
    if (!optimized && !members.has(`backup/snapshots/${s}`)) throw badRequest(`Invalid backup file: snapshot "${s}" missing from the archive`);
  }
  const c = idx.config!.container!;
  const name = opts.name || idx.name;
  validateInstanceName(name);
  if (await db.instances.get(project, name)) throw conflict(`Instance "${name}" already exists`);

  const profiles = c.profiles ?? [];
  const profileProject = await m.profileProject(project);
  for (const p of profiles) if (!(await db.profiles.get(profileProject, p))) throw badRequest(`Profile "${p}" not found`);
  const config = { ...(c.config ?? {}) };
  validateInstanceConfig(Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith('volatile.'))));
  config['volatile.last_state.power'] = 'STOPPED';
  const record = recordFromBackup(c, project, name, { config, profiles, lastUsedAt: '1970-01-01T00:00:00Z' });
  let pool = opts.pool || idx.pool;
  if (!(await pools.list()).some((p) => p.name === pool)) {
    // As Incus: a pool the caller named must exist; the file's may fall back on the default profile's (not for the driver's own streams).
    if (opts.pool || optimized) throw new StatusError(500, 'Storage pool not found: Storage pool not found');
    const dflt = await db.profiles.get(profileProject, 'default');
    pool = rootDisk(dflt?.devices ?? {})?.pool ?? '';
    if (!pool) throw new StatusError(500, 'Failed to get root disk device: No root device could be found');
  }
  const poolRec = await pools.get(pool);
  if (optimized) checkOptimizedImport(idx, members, INSTANCE_PARTS, poolRec.driver, pools.driver(poolRec));
  record.devices = await rootOnPool(m, record, pool);
  await validateDevices(m.deps, record.devices, { profile: false });
  // In the index's order: an optimized backup's streams are deltas, each from the one before.
  const configs = new Map((idx.config?.snapshots ?? []).map((s) => [s.name, s]));
  const snapshots = (idx.snapshots ?? []).map((name) => {
    const c = configs.get(name);
    if (!c) throw badRequest(`Invalid backup file: no config for snapshot "${name}"`);
    return c;
  });
  await allowInstanceCreation(db, project, record);
  return { file, pool, record, snapshots, volume: volumeRowsOf(idx), optimized: optimized ? members : null };
}

/** Empties a volume's directory (a volume is extracted into, snapshot after snapshot). */
async function clearDir(dir: string): Promise<void> {
  for (const e of await readdir(dir)) await rm(join(dir, e), { recursive: true, force: true });
}

/** Where a backup's volume is restored to. */
export interface RestoreTarget {
  sd: StorageDriver;
  spec: PoolSpec;
  type: VolumeType;
  disk: string;
}

/**
 * Makes the volume from a backup file: each snapshot extracted into the
 * volume and snapshotted, oldest first, then the volume's own content; or,
 * for an optimized one (`optimized`: its members), by the driver from its
 * streams. Every step undone by `r` on failure.
 */
export async function restoreVolume(file: string, t: RestoreTarget, snapshots: string[], parts: TarballParts, r: Reverter, optimized: ReadonlySet<string> | null): Promise<void> {
  const { sd, spec, type, disk } = t;
  if (optimized) {
    // The driver leaves nothing when it fails; once it is done, the rest may still fail.
    await sd.createVolumeFromBackup!(spec, type, disk, snapshots, optimizedFiles(parts), tarSource(file, optimized));
    r.add(() => sd.deleteVolume(spec, type, disk));
    for (const s of snapshots) r.add(() => sd.deleteSnapshot(spec, type, disk, s));
    return;
  }
  r.add(() => sd.deleteVolume(spec, type, disk));
  await sd.createVolume(spec, type, disk);
  const path = sd.volumePath(spec, type, disk);
  for (const s of snapshots) {
    await clearDir(path);
    await extractPart(file, `backup/${parts.snapshots}/${s}`, path);
    r.add(() => sd.deleteSnapshot(spec, type, disk, s));
    await sd.createSnapshot(spec, type, disk, s);
  }
  await clearDir(path);
  await extractPart(file, `backup/${parts.volume}`, path);
}

/** Creates the instance from a planned import; everything undone on failure. */
export async function runImport(m: InstanceManager, plan: ImportPlan): Promise<InstanceRecord> {
  const { db, pools } = m.deps;
  const r = new Reverter();
  try {
    const pool = await pools.get(plan.pool);
    const { record } = plan;
    const sd = pools.driver(pool);
    const spec = pools.spec(pool);
    const disk = storageName(record.project, record.name);
    // Volume first, rows last (as for copies): a crash mid-import lists no half-imported instance.
    if (await db.instances.get(record.project,record.name)) throw conflict(`Instance "${record.name}" already exists`);
    if (await stat(sd.volumePath(spec, record.type, disk)).catch(() => null)) {
      throw conflict(`A volume for "${record.name}" already exists on pool "${pool.name}" (see incus admin recover)`);
    }
    await restoreVolume(plan.file, { sd, spec, type: record.type, disk }, plan.snapshots.map((s) => s.name), INSTANCE_PARTS, r, plan.optimized);
    const known = await m.profileLookup([record.project]);
    const snapshots = plan.snapshots.map((s) => ({
      name: s.name,
      createdAt: s.created_at,
      expiresAt: s.expires_at || NO_EXPIRY,
      stateful: false,
      description: s.description ?? '',
      architecture: s.architecture || record.architecture,
      ephemeral: s.ephemeral === true,
      config: s.config ?? {},
      devices: s.devices ?? {},
      profiles: (s.profiles ?? []).filter((p) => known(record.project, p) !== undefined),
    }));
    const rec = await registerInstance(m, r, pool, record, snapshots, plan.volume);
    r.success();
    return rec;
  } catch (err) {
    await r.fail();
    throw err;
  }
}
