/**
 * A local copy onto an existing instance (`source.refresh`), as Incus's
 * instanceCreateAsCopy in refresh mode: the target must be stopped; its
 * snapshots the source lacks (or has with another creation time) go, the
 * source snapshots it lacks come over, then the volume is synced. The
 * target's config is left alone (the CLI updates it afterwards).
 */
import type { InstanceRecord } from '../db/instances';
import { StatusError } from '../errors';
import { compareSnapshots } from '../migration/snapshots';
import { storageName } from '../storage/volume-names';
import type { CopyPlan } from './copy';
import type { InstanceManager } from './manager';
import type { SnapshotManager } from './snapshots';
import { syncTree } from './volume-copy';

const seconds = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

/** Refreshes `target` from the plan's source. */
export async function runRefresh(m: InstanceManager, snapshotManager: SnapshotManager, plan: CopyPlan, target: InstanceRecord): Promise<InstanceRecord> {
  const { db, pools, drivers } = m.deps;
  const [st] = await drivers.states([target]);
  if ((st?.pid ?? 0) > 0) throw new StatusError(500, 'Failed getting exclusive access to target instance: Instance is running');
  const srcVol = await pools.volumeOf(plan.source.project, plan.source.type, plan.source.name);
  const dstVol = await pools.volumeOf(target.project, target.type, target.name);
  if (!srcVol || !dstVol) throw new StatusError(500, `Instance "${!srcVol ? plan.source.name : target.name}" has no root volume`);
  const srcPool = await pools.get(srcVol.pool);
  const dstPool = await pools.get(dstVol.pool);
  const src = { sd: pools.driver(srcPool), spec: pools.spec(srcPool), name: storageName(plan.source.project, plan.source.name) };
  const dst = { sd: pools.driver(dstPool), spec: pools.spec(dstPool), name: storageName(target.project, target.name) };

  const have = plan.instanceOnly ? [] : await db.snapshots.list(target.id);
  const cmp = compareSnapshots(
    plan.snapshots.map((x) => ({ name: x.name, created: seconds(x.createdAt) })),
    have.map((x) => ({ name: x.name, created: seconds(x.createdAt) })),
    plan.refreshExcludeOlder,
  );
  for (const name of cmp.remove) await snapshotManager.delete(target, have.find((x) => x.name === name)!);

  // Each missing snapshot is built in the volume, then snapshotted; the volume's own content comes last.
  const dstPath = dst.sd.volumePath(dst.spec, target.type, dst.name);
  for (const snap of plan.snapshots.filter((x) => cmp.sync.includes(x.name))) {
    await syncTree(src.sd.snapshotPath(src.spec, plan.source.type, src.name, snap.name), dstPath);
    await dst.sd.createSnapshot(dst.spec, target.type, dst.name, snap.name);
    const row = await db.pools.volume(srcVol.pool, srcVol.project, srcVol.type, `${srcVol.name}/${snap.name}`);
    const { id: _id, instanceId: _inst, ...fields } = snap;
    await db.snapshots.create({ ...fields, instanceId: target.id }, row ? { description: row.description, config: row.config } : undefined);
  }
  const from = plan.fromSnapshot ? src.sd.snapshotPath(src.spec, plan.source.type, src.name, plan.fromSnapshot.name) : src.sd.volumePath(src.spec, plan.source.type, src.name);
  await syncTree(from, dstPath);
  return target;
}
