/**
 * `incus admin recover`: finds container volumes on the pools that have no
 * database rows and rebuilds the rows (instance, volume, snapshots) from the
 * volume's backup.yaml, or, lacking one, from what is on disk (default
 * profiles, snapshots from the snapshot folders).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import type { BackupIndex } from '../../api/instance-backup';
import type { InstanceSnapshot } from '../../api/instance-snapshot';
import type { InstanceRecord } from '../db/instances';
import { NO_EXPIRY } from '../db/snapshots';
import type { PoolRecord } from '../db/storage-pools';
import { rootDisk } from './expand';
import { idmapJson } from './idmap';
import type { InstanceManager } from './manager';
import { apiNameProblem, hostnameProblem } from '../names';
import { notFound } from '../errors';
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

interface Found extends UnknownVolume {
  path: string;
  config: NonNullable<BackupIndex['config']> | null;
  snapshotNames: string[];
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Container volumes on these pools (all when none named) that the database does not know. */
async function scan(m: InstanceManager, poolNames?: string[]): Promise<Found[]> {
  const { pools, db } = m.deps;
  const out: Found[] = [];
  const list = await (await pools.list()).filter((p) => !poolNames || poolNames.length === 0 || poolNames.includes(p.name));
  for (const pool of list) {
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
      let config: Found['config'] = null;
      try {
        config = parse(await readFile(join(path, 'backup.yaml'), 'utf8')) as Found['config'];
      } catch {
        // No backup.yaml: rebuilt from the disk alone.
      }
      if (await db.instances.get(project,name) || await db.pools.volumeOf(project,'container',name)) continue;
      const snapshotNames = (await entries(dirname(sd.snapshotPath(spec, 'container', disk, 'x')))).filter((s) => apiNameProblem(s) === null);
      out.push({ name, type: 'container', pool: pool.name, project, snapshot_count: snapshotNames.length, path, config, snapshotNames });
    }
  }
  return out;
}

/** Projects the found volumes name that the database lacks, as Incus words them (`Project "p"`). */
async function dependencyErrors(m: InstanceManager, found: Found[]): Promise<string[]> {
  const projects = new Set((await m.deps.db.projects.list()).map((p) => p.name));
  const missing = new Set(found.map((f) => f.project).filter((p) => !projects.has(p)));
  return [...missing].sort().map((p) => `Project "${p}"`);
}

/** What recover would bring back (POST /internal/recover/validate), and what it lacks to do so. */
export async function validateRecover(m: InstanceManager, poolNames?: string[]): Promise<{ volumes: UnknownVolume[]; dependencyErrors: string[] }> {
  const found = await scan(m, poolNames);
  return {
    volumes: found.map(({ name, type, pool, project, snapshot_count }) => ({ name, type, pool, project, snapshot_count })),
    dependencyErrors: await dependencyErrors(m, found),
  };
}

/** The record for a found volume: from backup.yaml, else defaults with the pool's root disk. */
async function recordOf(m: InstanceManager, f: Found, pool: PoolRecord): Promise<Omit<InstanceRecord, 'id'>> {
  const c = f.config?.container;
  const profiles = await m.profileLookup([f.project]);
  if (c) {
    return {
      project: f.project,
      name: f.name,
      type: 'container',
      architecture: c.architecture || 'x86_64',
      ephemeral: c.ephemeral === true,
      stateful: false,
      description: c.description ?? '',
      createdAt: c.created_at || new Date().toISOString(),
      lastUsedAt: c.last_used_at || '1970-01-01T00:00:00Z',
      config: { ...(c.config ?? {}), 'volatile.last_state.power': 'STOPPED' },
      devices: c.devices ?? {},
      profiles: (c.profiles ?? []).filter((p) => profiles(f.project, p) !== undefined),
    };
  }
  // No record of the id map: a rootfs owned by the host's base id was shifted on disk.
  const owner = (await stat(join(f.path, 'rootfs')).catch(() => null))?.uid ?? 0;
  const shifted = owner !== 0 && owner === m.deps.idmap.uid.hostBase;
  const rec: Omit<InstanceRecord, 'id'> = {
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

/** Rebuilds the rows of every unknown volume (POST /internal/recover/import); returns what was recovered. */
export async function runRecover(m: InstanceManager, poolNames?: string[]): Promise<UnknownVolume[]> {
  const { db, pools, events } = m.deps;
  const done: UnknownVolume[] = [];
  const found = await scan(m, poolNames);
  // As Incus: nothing is imported while a volume's project is missing.
  const projects = new Set((await db.projects.list()).map((p) => p.name));
  const missing = found.find((f) => !projects.has(f.project));
  if (missing) throw notFound(`Project "${missing.project}" not found`);
  for (const f of found) {
    const profiles = await m.profileLookup([f.project]);
    const pool = await pools.get(f.pool);
    const record = await recordOf(m, f, pool);
    const known = new Map<string, InstanceSnapshot>((f.config?.snapshots ?? []).map((s) => [s.name, s]));
    const rec = await db.transaction(async (tx) => {
      const created = await tx.instances.create(record);
      await tx.pools.createVolume({
        pool: pool.name,
        project: f.project,
        name: f.name,
        type: 'container',
        contentType: 'filesystem',
        description: '',
        config: f.config?.volume?.config ?? {},
        createdAt: record.createdAt,
      });
      for (const name of f.snapshotNames) {
        const s = known.get(name);
        await tx.snapshots.create({
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
        });
      }
      return created;
    });
    await attachInstance(m, rec);
    events.lifecycle('instance-created', `/1.0/instances/${rec.name}${projectSuffix(rec.project)}`, rec.project);
    done.push({ name: f.name, type: f.type, pool: f.pool, project: f.project, snapshot_count: f.snapshotNames.length });
  }
  return done;
}
