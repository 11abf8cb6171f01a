/**
 * What an instance has on the host outside its volume and the database: the
 * driver's runtime links (containers/<name> for liblxc) and the link to its
 * snapshots (containers-snapshots/<name>). Made when an instance comes to be
 * from a volume, dropped before it goes or is renamed.
 */
import type { InstanceRecord } from '../db/instances';
import { StatusError } from '../errors';
import { storageName } from '../storage/volume-names';
import type { InstanceManager } from './manager';
import { removeSnapshotLink, snapshotLinkPath, syncSnapshotLink } from './snapshot-link';
import { snapshotsDir } from '../storage/snapshot-folders';

/** Creates the driver's links and, when the instance has snapshots, the snapshot link. */
export async function attachInstance(m: InstanceManager, rec: InstanceRecord): Promise<void> {
  await m.deps.drivers.of(rec.type).attach(await m.runtime(rec));
  await syncInstanceSnapshotLink(m, rec);
}

/** Removes the driver's links and the snapshot link. */
export async function detachInstance(m: InstanceManager, rec: InstanceRecord): Promise<void> {
  await m.deps.drivers.of(rec.type).detach(rec);
  await removeSnapshotLink(snapshotLinkPath(m.deps.varDir, rec.type, rec.project, rec.name));
}

/** Brings the snapshot link in line with the pool after a snapshot was taken or deleted. */
export async function syncInstanceSnapshotLink(m: InstanceManager, rec: InstanceRecord): Promise<void> {
  const { pools, varDir } = m.deps;
  const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
  if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
  const pool = await pools.get(vol.pool);
  const target = snapshotsDir(pools.driver(pool), pools.spec(pool), rec.type, storageName(rec.project, rec.name));
  await syncSnapshotLink(snapshotLinkPath(varDir, rec.type, rec.project, rec.name), target);
}
