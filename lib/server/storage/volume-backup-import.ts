/**
 * Imports a custom volume from a backup tarball (`backup/index.yaml` with
 * config.volume, `backup/volume/`, `backup/volume-snapshots/<snap>/`; or,
 * optimized, the driver's `volume.bin` and `volume-snapshots/<snap>.bin`):
 * the whole archive is read and checked before anything is made; then the
 * volume and its snapshots on disk, and the rows last. A failure undoes all.
 */
import type { BackupIndex } from '../../api/instance-backup';
import type { Queries } from '../db';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { badRequest } from '../errors';
import { parseIndexYaml, restoreVolume } from '../instance/backup-import';
import { checkOptimizedImport, isOptimized } from '../instance/backup-optimized';
import { listBackupMembers, readBackupIndex, VOLUME_PARTS } from '../instance/backup-tarball';
import { apiNameProblem, validateVolumeName } from '../names';
import { allowVolumeCreation } from '../projects/permissions';
import { Reverter } from '../revert';
import type { StoragePools } from './pools';
import { volumeDiskName } from './volume-names';
import { EXPIRES } from './volume-snapshots';
import { NO_EXPIRY } from '../db/snapshots';
import type { AdoptedSnapshot, StorageVolumes } from './volumes';

/** A checked import, ready to run. */
export interface VolumeImportPlan {
  file: string;
  pool: PoolRecord;
  project: string;
  name: string;
  description: string;
  config: Record<string, string>;
  snapshots: AdoptedSnapshot[];
  /** An optimized backup: the tarball's members (for the driver's source); null for a normal one. */
  optimized: ReadonlySet<string> | null;
}

/** The index parsed and checked for what a volume import needs; a 400 otherwise. */
function parseVolumeIndex(text: string): BackupIndex {
  const i = parseIndexYaml(text, 'volume', 'volume');
  if (i.type && i.type !== 'custom') throw badRequest(`Backup of type "${i.type}" is not a custom volume backup`);
  if ((i.config!.volume!.content_type ?? 'filesystem') !== 'filesystem') throw badRequest('Backups of block volumes are not supported on this server');
  return i;
}

/** Reads and checks the whole file, then works out the rows (400/409 before any change). */
export async function planVolumeImport(
  db: Queries,
  vols: StorageVolumes,
  pools: StoragePools,
  pool: PoolRecord,
  project: string,
  file: string,
  name: string | undefined,
): Promise<VolumeImportPlan> {
  const members = new Set((await listBackupMembers(file)).map((n) => n.replace(/\/$/, '')));
  const idx = parseVolumeIndex(await readBackupIndex(file));
  const optimized = isOptimized(idx, members, VOLUME_PARTS);
  if (optimized) checkOptimizedImport(idx, members, VOLUME_PARTS, pool.driver, pools.driver(pool));
  else if (!members.has('backup/volume')) throw badRequest('Invalid backup file: no backup/volume in the archive');
  const volName = name || idx.name;
  try {
    validateVolumeName(volName);
  } catch (err) {
    throw badRequest(`Invalid volume name: ${(err as Error).message}`);
  }
  // Names from the file become paths: checked as the API would (Incus does the same).
  const rows = new Map((idx.config?.volume_snapshots ?? []).filter((s) => s && typeof s.name === 'string').map((s) => [s.name, s]));
  const snapshots: AdoptedSnapshot[] = [];
  for (const s of idx.snapshots ?? []) {
    const why = typeof s === 'string' ? apiNameProblem(s) : 'not a string';
    if (why) throw badRequest(`Invalid snapshot name: ${why}`);
    if (!optimized && !members.has(`backup/volume-snapshots/${s}`)) throw badRequest(`Invalid backup file: snapshot "${s}" missing from the archive`);
    const row = rows.get(s);
    const config = { ...(row?.config ?? {}) };
    // The API shows a snapshot's expiry apart from its config; the row keeps it in config.
    if (row?.expires_at && row.expires_at !== NO_EXPIRY) config[EXPIRES] = row.expires_at;
    snapshots.push({ name: s, description: row?.description ?? '', config, createdAt: row?.created_at || new Date().toISOString() });
  }
  const v = idx.config!.volume!;
  const config = { ...(v.config ?? {}) };
  await vols.checkNew(pool, project, { name: volName, contentType: 'filesystem', config });
  await allowVolumeCreation(db, project, pool.name, { name: volName, config });
  return { file, pool, project, name: volName, description: v.description ?? '', config, snapshots, optimized: optimized ? members : null };
}

/** Creates the volume from a planned import; everything undone on failure. */
export async function runVolumeImport(vols: StorageVolumes, pools: StoragePools, plan: VolumeImportPlan): Promise<VolumeRecord> {
  const r = new Reverter();
  try {
    const { pool } = plan;
    const disk = volumeDiskName('custom', plan.project, plan.name);
    await restoreVolume(plan.file, { sd: pools.driver(pool), spec: pools.spec(pool), type: 'custom', disk }, plan.snapshots.map((s) => s.name), VOLUME_PARTS, r, plan.optimized);
    const rec = await vols.adopt(pool, plan.project, { name: plan.name, contentType: 'filesystem', description: plan.description, config: plan.config }, plan.snapshots);
    r.success();
    return rec;
  } catch (err) {
    await r.fail();
    throw err;
  }
}
