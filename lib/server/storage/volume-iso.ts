/**
 * ISO custom volumes (`incus storage volume import POOL FILE.iso NAME`):
 * the uploaded image becomes the volume's `root.img` in a folder named
 * `<project>_<name>.iso`, as Incus lays them out; content type `iso`.
 */
import { copyFile, rename, rm, stat } from 'node:fs/promises';
import type { Queries } from '../db';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { badRequest } from '../errors';
import { allowVolumeCreation } from '../projects/permissions';
import { Reverter } from '../revert';
import type { StoragePools } from './pools';
import { customDiskName } from './volume-names';
import type { StorageVolumes } from './volumes';

/** A checked ISO import, ready to run. */
export interface IsoImportPlan {
  file: string;
  pool: PoolRecord;
  project: string;
  name: string;
  size: number;
}

/** Checks the name and the quota before the operation starts (400, 409). */
export async function planIsoImport(db: Queries, vols: StorageVolumes, pool: PoolRecord, project: string, file: string, name: string | undefined): Promise<IsoImportPlan> {
  if (!name) throw badRequest('Missing volume name');
  await vols.checkNew(pool, project, { name, contentType: 'block', config: {} });
  await allowVolumeCreation(db, project, pool.name, { name, config: {} });
  return { file, pool, project, name, size: (await stat(file)).size };
}

/** Moves the image into place and adds the row; undone on failure. */
export async function runIsoImport(vols: StorageVolumes, pools: StoragePools, plan: IsoImportPlan): Promise<VolumeRecord> {
  const { pool } = plan;
  const sd = pools.driver(pool);
  const spec = pools.spec(pool);
  const disk = customDiskName({ project: plan.project, name: plan.name, contentType: 'iso' });
  const r = new Reverter();
  try {
    r.add(() => sd.deleteVolume(spec, 'custom', disk));
    await sd.createVolume(spec, 'custom', disk, { contentType: 'block', size: plan.size });
    const target = sd.blockPath(spec, 'custom', disk);
    // The upload usually sits on the pool's filesystem; a copy when it does not.
    await rename(plan.file, target).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV') throw err;
      await copyFile(plan.file, target);
      await rm(plan.file, { force: true });
    });
    // As Incus: the volume's size is the image's.
    const rec = await vols.adopt(pool, plan.project, { name: plan.name, contentType: 'iso', description: '', config: { size: String(plan.size) } }, []);
    r.success();
    return rec;
  } catch (err) {
    await r.fail();
    throw err;
  }
}
