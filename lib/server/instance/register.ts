/**
 * The last step of every way an instance comes to be from an existing volume
 * (copy, backup import): its rows (instance, root volume, snapshots) in one
 * transaction, the root quota, the driver's runtime links. Each step is
 * undone through the caller's Reverter if a later one fails.
 */
import type { InstanceRecord, NewInstance } from '../db/instances';
import { ProfileMissingError } from '../db/instances';
import type { NewSnapshot } from '../db/snapshots';
import type { PoolRecord } from '../db/storage-pools';
import { badRequest, conflict } from '../errors';
import type { Reverter } from '../revert';
import { storageName } from '../storage/volume-names';
import { rootDisk } from './expand';
import type { InstanceManager } from './manager';
import { allowInstanceCreation } from '../projects/permissions';
import { attachInstance, detachInstance } from './links';

/** The root volume's own description and config (a backup's), and its snapshots' by name. */
export interface RootVolumeRows {
  description: string;
  config: Record<string, string>;
  snapshots: ReadonlyMap<string, { description: string; config: Record<string, string> }>;
}

export async function registerInstance(
  m: InstanceManager,
  r: Reverter,
  pool: PoolRecord,
  record: NewInstance,
  snapshots: Omit<NewSnapshot, 'instanceId'>[],
  volume?: RootVolumeRows,
): Promise<InstanceRecord> {
  const { db, pools, events } = m.deps;
  let rec!: InstanceRecord;
  try {
    rec = await db.transaction(async (tx) => {
      // Checked in the same tick as the insert, so that racing creates cannot both pass a limit.
      await allowInstanceCreation(tx, record.project, record);
      const created = await tx.instances.create(record);
      await tx.pools.createVolume({
        pool: pool.name,
        project: record.project,
        name: record.name,
        type: record.type,
        contentType: 'filesystem',
        description: volume?.description ?? '',
        config: volume?.config ?? {},
        createdAt: record.createdAt,
      });
      for (const s of snapshots) await tx.snapshots.create({ ...s, instanceId: created.id }, volume?.snapshots.get(s.name));
      return created;
    });
  } catch (err) {
    if (err instanceof ProfileMissingError) throw badRequest(err.message);
    if (String(err).includes('UNIQUE')) throw conflict(`Instance "${record.name}" already exists`);
    throw err;
  }
  r.add(() =>
    db.transaction(async (tx) => {
      const v = await tx.pools.volumeOf(record.project, record.type, record.name);
      if (v) await tx.pools.deleteVolume(v.id);
      await tx.instances.delete(rec.id);
    }),
  );
  const rootSize = rootDisk((await m.expand(rec)).expanded_devices)?.config.size;
  if (rootSize) await pools.applyQuota(pool, rec.type, storageName(rec.project, rec.name), rootSize);
  r.add(() => detachInstance(m, rec));
  await attachInstance(m, rec);
  events.lifecycle('instance-created', `/1.0/instances/${rec.name}`, rec.project);
  return rec;
}
