/**
 * The instance half of `incus admin recover`: container volumes on a pool
 * without database rows, and their rows (instance, volume, snapshots)
 * rebuilt from the volume's backup.yaml or, lacking one, from what is on
 * disk (default profiles, snapshots from the snapshot folders).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import type { BackupIndex } from '../../api/instance-backup';
import type { InstanceSnapshot } from '../../api/instance-snapshot';
import type { NewInstance } from '../db/instances';
import { NO_EXPIRY } from '../db/snapshots';
import type { PoolRecord } from '../db/storage-pools';
import { recordFromBackup } from './backup-import';
import { rootDisk } from './expand';
import { idmapJson } from './idmap';
import type { InstanceManager } from './manager';
import { apiNameProblem, hostnameProblem } from '../names';
import { projectSuffix } from '../projects/used-by';
import { parseStorageName } from '../storage/volume-names';
import { attachInstance } from './links';

/** A volume found on disk without rows (Incus's RecoverValidateVolume). */
export interface UnknownVolume {
  name: string;
  type: string;
  pool: string;
  project: string;
  snapshot_count: number;
}

/** An instance volume found on disk, with its backup.yaml when it has one. */
export interface FoundInstance extends UnknownVolume {
  path: string;
  config: NonNullable<BackupIndex['config']> | null;
  snapshotNames: string[];
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Container volumes on the pool (a temporary record for one not in the database yet) that the database does not know. */
export async function scanInstanceVolumes(m: InstanceManager, pool: PoolRecord): Promise<FoundInstance[]> {
  const { pools, db } = m.deps;
  const out: FoundInstance[] = [];
  const sd = pools.driver(pool);
  const spec = pools.spec(pool);
  const dir = dirname(sd.volumePath(spec, 'container', 'x'));
  for (const disk of await entries(dir)) {
    // `<project>_<name>` outside the default project, as Incus names instance volumes.
    const { project, name } = parseStorageName(disk);
    // Only what the API could have made: a folder that is no valid instance name is no instance.
    if (hostnameProblem(name) !== null || apiNameProblem(project) !== null) continue;
    const path = sd.volumePath(spec, 'container', disk);
    if (!(await stat(path).catch(() => null))?.isDirectory()) continue;
    let config: FoundInstance['config'] = null;
    try {
      config = parse(await readFile(join(path, 'backup.yaml'), 'utf8')) as FoundInstance['config'];
    } catch {
      // No backup.yaml: rebuilt from the disk alone.
    }
    if ((await db.instances.get(project, name)) || (await db.pools.volumeOf(project, 'container', name))) continue;
    const snapshotNames = (await entries(dirname(sd.snapshotPath(spec, 'container', disk, 'x')))).filter((s) => apiNameProblem(s) === null);
    out.push({ name, type: 'container', pool: pool.name, project, snapshot_count: snapshotNames.length, path, config, snapshotNames });
  }
  return out;
}

/** The record for a found volume: from backup.yaml, else defaults with the pool's root disk. */
async function recordOf(m: InstanceManager, f: FoundInstance, pool: PoolRecord): Promise<NewInstance> {
  const c = f.config?.container;
  const profiles = await m.profileLookup([f.project]);
  if (c) {
    return recordFromBackup(c, f.project, f.name, {
      config: { ...(c.config ?? {}), 'volatile.last_state.power': 'STOPPED' },
      profiles: (c.profiles ?? []).filter((p) => profiles(f.project, p) !== undefined),
      lastUsedAt: c.last_used_at || '1970-01-01T00:00:00Z',
    });
  }
  // No record of the id map: a rootfs owned by the host's base id was shifted on disk.
  const owner = (await stat(join(f.path, 'rootfs')).catch(() => null))?.uid ?? 0;
  const shifted = owner !== 0 && owner === m.deps.idmap.uid.hostBase;
  const rec: NewInstance = {
    project: f.project,
    name: f.name,
    type: 'container',
    architecture: 'x86_64',
    ephemeral: false,
    stateful: false,
    description: '',
    createdAt: new Date().toISOString(),
    lastUsedAt: '1970-01-01T00:00:00Z',
    config: { 'volatile.last_state.power': 'STOPPED', 'volatile.last_state.idmap': shifted ? idmapJson(m.deps.idmap) : '[]' },
    devices: {},
    profiles: ['default'],
  };
  if (rootDisk((await m.expand(rec)).expanded_devices)?.pool !== pool.name) rec.devices = { root: { type: 'disk', path: '/', pool: pool.name } };
  return rec;
}

/** Rebuilds the rows of one found instance volume (its project present) and attaches the instance. */
export async function importFoundInstance(m: InstanceManager, f: FoundInstance): Promise<void> {
  const { db, pools, events } = m.deps;
  const profiles = await m.profileLookup([f.project]);
  const pool = await pools.get(f.pool);
  const record = await recordOf(m, f, pool);
  const known = new Map<string, InstanceSnapshot>((f.config?.snapshots ?? []).map((s) => [s.name, s]));
  const volumeSnapshots = new Map((f.config?.volume_snapshots ?? []).map((s) => [s.name, { description: s.description ?? '', config: s.config ?? {} }]));
  const vol = f.config?.volume;
  const rec = await db.transaction(async (tx) => {
    const created = await tx.instances.create(record);
    await tx.pools.createVolume({
      pool: pool.name,
      project: f.project,
      name: f.name,
      type: 'container',
      contentType: 'filesystem',
      description: vol?.description ?? '',
      config: vol?.config ?? {},
      createdAt: record.createdAt,
    });
    for (const name of f.snapshotNames) {
      const s = known.get(name);
      const snapshot = {
        instanceId: created.id,
        name,
        createdAt: s?.created_at || record.createdAt,
        expiresAt: s?.expires_at || NO_EXPIRY,
        stateful: false,
        description: s?.description ?? '',
        architecture: s?.architecture || record.architecture,
        ephemeral: s?.ephemeral === true,
        config: s?.config ?? record.config,
        devices: s?.devices ?? record.devices,
        profiles: (s?.profiles ?? record.profiles).filter((p) => profiles(f.project, p) !== undefined),
      };
      await tx.snapshots.create(snapshot, volumeSnapshots.get(name));
    }
    return created;
  });
  await attachInstance(m, rec);
  events.lifecycle('instance-created', `/1.0/instances/${rec.name}${projectSuffix(rec.project)}`, rec.project);
}
