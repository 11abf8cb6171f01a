/**
 * The `disk` part of an instance's state, as Incus fills it for containers:
 * the root disk and each disk backed by a pool's custom volume, with the
 * volume's usage (-1 when the pool cannot tell, as dir without project
 * quotas or btrfs with quotas off) and its size limit (0 when none). Read
 * for `GET /1.0/instances/NAME/state` only: a list would run the pool's
 * usage tool once per instance.
 */
import type { DevicesMap } from '../../api/instance';
import type { Db } from '../db';
import { parseSize } from './config/units';
import type { StoragePools } from '../storage/pools';
import { storageName, volumeDiskName } from '../storage/volume-names';
import type { VolumeType } from '../storage/interface';

/** Incus's default size of a VM's root disk (drivers.DefaultBlockSize). */
const VM_DEFAULT_ROOT = 10 * 1024 ** 3;

export interface DiskUsage {
  usage: number;
  total: number;
}

/**
 * Usage per disk device of an instance of `type` in `project`; custom
 * volumes are looked up in `volumeProject` (features.storage.volumes).
 */
export async function diskState(
  db: Db,
  pools: StoragePools,
  inst: { project: string; name: string; type: VolumeType; devices: DevicesMap; volumeProject: string },
): Promise<Record<string, DiskUsage>> {
  const out: Record<string, DiskUsage> = {};
  const usageOf = async (poolName: string, type: VolumeType, disk: string): Promise<number> => {
    const pool = await pools.get(poolName);
    return (await pools.driver(pool).volumeUsage?.(pools.spec(pool), type, disk).catch(() => null)) ?? -1;
  };
  for (const [name, d] of Object.entries(inst.devices).sort(([a], [b]) => a.localeCompare(b))) {
    if (d.type !== 'disk') continue;
    if (d.path === '/') {
      const vol = await pools.volumeOf(inst.project, inst.type, inst.name);
      if (!vol) continue;
      const size = parseSize(d.size ?? '') ?? (inst.type === 'virtual-machine' ? VM_DEFAULT_ROOT : 0);
      out[name] = { usage: await usageOf(vol.pool, inst.type, storageName(inst.project, inst.name)), total: size };
    } else if (d.pool && d.source) {
      const volume = d.source.split('/')[0];
      const rec = await db.pools.volume(d.pool, inst.volumeProject, 'custom', volume);
      if (!rec) continue;
      const usage = await usageOf(d.pool, 'custom', volumeDiskName('custom', inst.volumeProject, volume));
      out[name] = { usage, total: parseSize(rec.config.size ?? '') ?? 0 };
    }
  }
  return out;
}
