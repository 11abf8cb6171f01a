/**
 * `incus admin recover` (POST /internal/recover/validate and /import): on
 * the pools asked for (known ones by name, unknown ones with driver and
 * config) finds the instance and custom volumes without database rows and
 * what they depend on (projects, profiles, networks). The import does
 * nothing while something is missing (it answers as validate does, as
 * Incus); else it records the unknown pools (config from an instance's
 * backup.yaml when there is one, as Incus prefers it), then the custom
 * volumes, then the instances (whose disks may use those volumes).
 */
import type { PoolRecord } from '../db/storage-pools';
import { badRequest } from '../errors';
import { featureProject } from '../projects/features';
import { type FoundCustomVolume, importCustomVolume, scanCustomVolumes } from '../storage/recover-custom';
import type { InstanceManager } from './manager';
import { type FoundInstance, type UnknownVolume, importFoundInstance, scanInstanceVolumes } from './recover-instances';

export type { UnknownVolume } from './recover-instances';

/** A pool to scan, as Incus's StoragePoolsPost: a known one by name alone. */
export interface RecoverPool {
  name: string;
  driver?: string;
  description?: string;
  config?: Record<string, string>;
}

interface Scan {
  pools: { record: PoolRecord; temporary: boolean }[];
  instances: FoundInstance[];
  custom: FoundCustomVolume[];
  volumes: UnknownVolume[];
  dependencyErrors: string[];
}

/** The pools' records: known ones from the database (all of them when none is named), unknown ones checked and mounted. */
async function openPools(m: InstanceManager, asked: RecoverPool[]): Promise<Scan['pools']> {
  const { db, pools } = m.deps;
  if (asked.length === 0) return (await pools.list()).map((record) => ({ record, temporary: false }));
  const out: Scan['pools'] = [];
  for (const p of asked) {
    const known = await db.pools.get(p.name);
    if (known) {
      out.push({ record: known, temporary: false });
      continue;
    }
    if (!p.driver) throw badRequest(`Failed to initialize unknown pool "${p.name}": No storage driver given`);
    const record = await pools.temporary(p.name, p.driver, p.config ?? {});
    out.push({ record: { ...record, description: p.description ?? '' }, temporary: true });
  }
  return out;
}

/** What the found volumes need that the database lacks, worded as Incus words it. */
async function dependencyErrors(m: InstanceManager, instances: FoundInstance[], custom: FoundCustomVolume[]): Promise<string[]> {
  const { db } = m.deps;
  const projects = new Map((await db.projects.list()).map((p) => [p.name, p]));
  const errors: string[] = [];
  const add = (e: string): void => {
    if (!errors.includes(e)) errors.push(e);
  };
  for (const v of [...instances, ...custom]) if (!projects.has(v.project)) add(`Project "${v.project}"`);
  for (const f of instances) {
    const project = projects.get(f.project);
    const c = f.config?.container;
    if (!project || !c) continue;
    const profiles = await m.profileLookup([f.project]);
    for (const p of c.profiles ?? []) if (!profiles(f.project, p)) add(`Profile "${p}" in project "${f.project}"`);
    for (const dev of Object.values(c.expanded_devices ?? {})) {
      if (dev.type !== 'nic' || !dev.network) continue;
      const netProject = featureProject(f.project, project.config, 'networks');
      if (!(await db.networks.get(netProject, dev.network))) add(`Network "${dev.network}" in project "${f.project}"`);
    }
  }
  return errors;
}

async function scan(m: InstanceManager, asked: RecoverPool[]): Promise<Scan> {
  const pools = await openPools(m, asked);
  const instances: FoundInstance[] = [];
  const custom: FoundCustomVolume[] = [];
  for (const { record } of pools) {
    instances.push(...(await scanInstanceVolumes(m, record)));
    custom.push(...(await scanCustomVolumes(m.deps.db, m.deps.pools, record)));
  }
  const volumes: UnknownVolume[] = [
    ...instances.map(({ name, type, pool, project, snapshot_count }) => ({ name, type, pool, project, snapshot_count })),
    ...custom.map((v) => ({ name: v.name, type: 'volume', pool: v.pool, project: v.project, snapshot_count: v.snapshots.length })),
  ];
  return { pools, instances, custom, volumes, dependencyErrors: await dependencyErrors(m, instances, custom) };
}

/** What recover would bring back (POST /internal/recover/validate), and what it lacks to do so. */
export async function validateRecover(m: InstanceManager, asked: RecoverPool[]): Promise<{ volumes: UnknownVolume[]; dependencyErrors: string[] }> {
  const s = await scan(m, asked);
  return { volumes: s.volumes, dependencyErrors: s.dependencyErrors };
}

/** Records an unknown pool: with the pool config an instance's backup.yaml kept, else the one given. */
async function recordPool(m: InstanceManager, record: PoolRecord, instances: FoundInstance[]): Promise<void> {
  const saved = instances.find((f) => f.pool === record.name && f.config?.pool?.config)?.config?.pool;
  await m.deps.db.transaction((tx) =>
    tx.pools.create({
      name: record.name,
      driver: saved?.driver || record.driver,
      description: saved?.description ?? record.description,
      config: saved?.config ?? record.config,
      status: 'Created',
    }),
  );
}

/**
 * Rebuilds the rows of every unknown pool and volume (POST
 * /internal/recover/import); with dependencies missing it changes nothing
 * and answers what validate answers.
 */
export async function runRecover(
  m: InstanceManager,
  asked: RecoverPool[],
): Promise<{ recovered: UnknownVolume[]; volumes: UnknownVolume[]; dependencyErrors: string[] }> {
  const s = await scan(m, asked);
  if (s.dependencyErrors.length > 0) return { recovered: [], volumes: s.volumes, dependencyErrors: s.dependencyErrors };
  for (const p of s.pools) if (p.temporary) await recordPool(m, p.record, s.instances);
  for (const v of s.custom) await importCustomVolume(m.deps.db, m.deps.pools, await m.deps.pools.get(v.pool), v);
  for (const f of s.instances) await importFoundInstance(m, f);
  return { recovered: s.volumes, volumes: [], dependencyErrors: [] };
}
