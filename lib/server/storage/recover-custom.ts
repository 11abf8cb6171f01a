/**
 * The custom-volume half of `incus admin recover`: custom volumes found in a
 * pool's `custom/` folder without a database row, with the snapshots in
 * `custom-snapshots/<volume>/` (an ISO volume's folder ends in `.iso`), and their rows made again. Incus keeps no
 * backup.yaml for a custom volume, so config and description start empty.
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Db, Queries } from '../db';
import type { PoolRecord } from '../db/storage-pools';
import { apiNameProblem } from '../names';
import type { StoragePools } from './pools';
import { ISO_SUFFIX, parseStorageName, volumeDiskName } from './volume-names';

/** A custom volume on disk that the database does not know. */
export interface FoundCustomVolume {
  pool: string;
  project: string;
  name: string;
  contentType: 'filesystem' | 'block' | 'iso';
  snapshots: string[];
}

const entries = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);

/** The unknown custom volumes of one pool (a temporary record for a pool not in the database yet). */
export async function scanCustomVolumes(db: Queries, pools: StoragePools, pool: PoolRecord): Promise<FoundCustomVolume[]> {
  const sd = pools.driver(pool);
  const spec = pools.spec(pool);
  const out: FoundCustomVolume[] = [];
  for (const disk of await entries(dirname(sd.volumePath(spec, 'custom', 'x')))) {
    // An ISO volume's folder carries `.iso` after its name (Incus's layout).
    const iso = disk.endsWith(ISO_SUFFIX);
    const { project, name } = parseStorageName(iso ? disk.slice(0, -ISO_SUFFIX.length) : disk);
    // Only what the API could have made: other folder names are no volumes.
    if (apiNameProblem(name) !== null || apiNameProblem(project) !== null) continue;
    const path = sd.volumePath(spec, 'custom', disk);
    if (!(await stat(path).catch(() => null))?.isDirectory()) continue;
    if (await db.pools.volume(pool.name, project, 'custom', name)) continue;
    const block = (await stat(sd.blockPath(spec, 'custom', disk)).catch(() => null))?.isFile() === true;
    if (iso && !block) continue;
    const snapshots = iso ? [] : (await entries(dirname(sd.snapshotPath(spec, 'custom', disk, 'x')))).filter((s) => apiNameProblem(s) === null);
    out.push({ pool: pool.name, project, name, contentType: iso ? 'iso' : block ? 'block' : 'filesystem', snapshots });
  }
  return out;
}

/**
 * Makes the rows of a found volume and its snapshots in one transaction; a
 * snapshot's creation time is its folder's mtime, the best left on disk.
 */
export async function importCustomVolume(db: Db, pools: StoragePools, pool: PoolRecord, v: FoundCustomVolume): Promise<void> {
  const sd = pools.driver(pool);
  const spec = pools.spec(pool);
  const now = new Date().toISOString();
  const times = new Map<string, string>();
  for (const s of v.snapshots) {
    const st = await stat(sd.snapshotPath(spec, 'custom', volumeDiskName('custom', v.project, v.name), s)).catch(() => null);
    times.set(s, st ? st.mtime.toISOString() : now);
  }
  await db.transaction(async (tx) => {
    const base = { pool: v.pool, project: v.project, type: 'custom', contentType: v.contentType, description: '', config: {} };
    await tx.pools.createVolume({ ...base, name: v.name, createdAt: now });
    for (const s of v.snapshots) await tx.pools.createVolume({ ...base, name: `${v.name}/${s}`, createdAt: times.get(s) ?? now });
  });
}
