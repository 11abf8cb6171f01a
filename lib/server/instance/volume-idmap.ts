/**
 * A custom filesystem volume bound into a container is owned, on disk, by
 * that container's id map, as Incus's disk device does it
 * (storagePoolVolumeAttachShift): before the bind, a volume whose recorded
 * map (`volatile.idmap.last`) differs from the container's is unshifted
 * from the old map and shifted to the new one, and the new map recorded.
 * A volume shared with other containers is shifted only when they all run
 * with that same map. `security.shifted` volumes are never shifted (an
 * idmapped mount does it) and `security.unmapped` ones are left alone.
 */
import type { DevicesMap } from '../../api/instance';
import type { VolumeRecord } from '../db/storage-pools';
import { badRequest } from '../errors';
import { customVolumeUserRecords } from '../storage/volumes';
import { volumeDiskName } from '../storage/volume-names';
import { isTrue } from './config-keys';
import { splitVolumeSource } from './devices/volume-subpath';
import { type IdmapEntry, entriesJson, parseIdmapJson } from './idmap-alloc';
import { remapTree } from './idmap-remap';
import type { InstanceRuntime } from './interface';
import type { InstanceManager } from './manager';

/** Incus's Set.Equals: entries for both kinds split in two, order ignored. */
export function sameIdmap(a: readonly IdmapEntry[], b: readonly IdmapEntry[]): boolean {
  const norm = (m: readonly IdmapEntry[]): string[] =>
    m
      .flatMap((e) => (e.isUid && e.isGid ? [{ ...e, isGid: false }, { ...e, isUid: false }] : [e]))
      .map((e) => `${e.isUid ? 'u' : 'g'}:${e.nsId}:${e.hostId}:${e.range}`)
      .sort();
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

/** Shifts the custom volumes that `devices` (disk devices of the container `rt`) name to its map. */
export async function shiftAttachedVolumes(m: InstanceManager, rt: InstanceRuntime, devices: DevicesMap): Promise<void> {
  if (rt.type !== 'container') return;
  const project = rt.volumeProject ?? rt.project;
  for (const d of Object.values(devices)) {
    if (d.type !== 'disk' || !d.pool || !d.source || d.path === '/') continue;
    const name = splitVolumeSource(d.source).volume;
    const vol = await m.deps.db.pools.volume(d.pool, project, 'custom', name);
    if (!vol || vol.contentType !== 'filesystem' || isTrue(vol.config['security.unmapped'])) continue;
    try {
      await shiftVolume(m, rt, vol);
    } catch (err) {
      throw badRequest(`Failed shifting custom storage volume "${name}" on storage pool "${d.pool}": ${(err as Error).message}`);
    }
  }
}

async function shiftVolume(m: InstanceManager, rt: InstanceRuntime, vol: VolumeRecord): Promise<void> {
  const shifted = isTrue(vol.config['security.shifted']);
  const next = shifted ? [] : (rt.idmap ?? []);
  const last = parseIdmapJson(vol.config['volatile.idmap.last']);
  const nextJson = next.length > 0 ? entriesJson(next) : '[]';
  if (!sameIdmap(next, last)) {
    if (!shifted) await checkOtherUsers(m, rt, vol, next);
    const pool = await m.deps.pools.get(vol.pool);
    const path = m.deps.pools.volumePath(pool, 'custom', volumeDiskName('custom', vol.project, vol.name));
    if (last.length > 0) await remapTree(path, last, 'out');
    if (next.length > 0) await remapTree(path, next, 'in');
  }
  if (vol.config['volatile.idmap.last'] === nextJson && vol.config['volatile.idmap.next'] === nextJson) return;
  const config = { ...vol.config, 'volatile.idmap.last': nextJson, 'volatile.idmap.next': nextJson };
  await m.deps.db.transaction((tx) => tx.pools.updateVolume({ ...vol, config }));
}

/** The volume may only change hands when no other container using it runs with another map. */
async function checkOtherUsers(m: InstanceManager, rt: InstanceRuntime, vol: VolumeRecord, next: IdmapEntry[]): Promise<void> {
  const { instances } = await customVolumeUserRecords(m.deps.db, vol.pool, vol.project, vol.name);
  if (instances.length === 1 && (instances[0].project !== rt.project || instances[0].name !== rt.name)) {
    throw new Error('Idmaps of container and storage volume are not identical');
  }
  if (instances.length <= 1) return;
  for (const rec of instances) {
    if (rec.type !== 'container') continue;
    const other = await m.runtime(rec);
    if (!sameIdmap(next, other.idmap ?? [])) {
      throw new Error(`Idmaps of container "${rec.name}" and storage volume "${vol.name}" are not identical`);
    }
  }
}
