/**
 * Before a start, a container's rootfs is brought to the id map it is about
 * to run with, as Incus's handleIdmappedStorage does: the map it is owned
 * by on disk is volatile.last_state.idmap ("[]": unshifted). Nothing to do
 * when the maps match, or when an unshifted rootfs can take an idmapped
 * mount; refused under security.protection.shift; else unshifted from the
 * old map and, where idmapped mounts do not work (or
 * INCUS_IDMAPPED_MOUNTS_DISABLE is set), shifted to the new one on disk.
 */
import { join } from 'node:path';
import type { InstanceRecord } from '../db/instances';
import { isTrue } from './config-keys';
import { entriesJson, parseIdmapJson } from './idmap-alloc';
import { remapTree } from './idmap-remap';
import type { InstanceManager } from './manager';
import { sameIdmap } from './volume-idmap';

/** Remaps `rec`'s rootfs where needed; returns the record with its new volatile.last_state.idmap. */
export async function syncRootfsIdmap(m: InstanceManager, rec: InstanceRecord): Promise<InstanceRecord> {
  if (rec.type !== 'container') return rec;
  const rt = await m.runtime(rec);
  const disk = parseIdmapJson(rec.config['volatile.last_state.idmap']);
  const next = rt.idmap ?? [];
  if (sameIdmap(disk, next)) return rec;
  const vol = await m.deps.pools.volumeOf(rec.project, rec.type, rec.name);
  const idmapped = vol ? m.deps.idmappedPool(vol.pool) : false;
  if (disk.length === 0 && idmapped) return rec;
  if (isTrue(rt.expandedConfig['security.protection.shift'])) {
    throw new Error('Failed to handle idmapped storage: Instance has filesystem shifting protection enabled');
  }
  const rootfs = join(rt.volumePath, 'rootfs');
  if (disk.length > 0) await remapTree(rootfs, disk, 'out');
  const shiftOnDisk = next.length > 0 && !idmapped;
  if (shiftOnDisk) await remapTree(rootfs, next, 'in');
  const json = shiftOnDisk ? entriesJson(next) : '[]';
  await m.setVolatile(rec, 'volatile.last_state.idmap', json);
  return { ...rec, config: { ...rec.config, 'volatile.last_state.idmap': json } };
}
