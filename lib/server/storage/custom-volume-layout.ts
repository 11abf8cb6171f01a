/**
 * Custom volumes of the `default` project live at custom/default_<name>, as
 * Incus names them (project.StorageVolume). Hosts set up before this layout
 * kept them at custom/<name>; on dir and btrfs pools (plain folders and
 * subvolumes) they and their snapshot folders are moved once at start.
 * LVM volumes are logical volumes named after the folder and are left as
 * they are.
 */
import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Db } from '../db';
import { DEFAULT_PROJECT } from '../projects/features';
import type { StoragePools } from './pools';
import { volumeDiskName } from './volume-names';

const FOLDER_DRIVERS = new Set(['dir', 'btrfs']);

/** Moves folders left at the old custom/<name> path to custom/default_<name>. */
export async function moveLegacyCustomVolumes(pools: StoragePools, db: Db): Promise<void> {
  for (const p of await pools.list()) {
    if (!FOLDER_DRIVERS.has(p.driver)) continue;
    const sd = pools.driver(p);
    const spec = pools.spec(p);
    const names = (await db.pools.volumes(p.name))
      .filter((v) => v.type === 'custom' && v.project === DEFAULT_PROJECT && !v.name.includes('/'))
      .map((v) => v.name)
      // Longest first: "default_x" moves out of the way before "x" moves to default_x.
      .sort((a, b) => b.length - a.length);
    for (const name of names) {
      const disk = volumeDiskName('custom', DEFAULT_PROJECT, name);
      const moves: [string, string][] = [
        [sd.volumePath(spec, 'custom', name), sd.volumePath(spec, 'custom', disk)],
        [dirname(sd.snapshotPath(spec, 'custom', name, 'x')), dirname(sd.snapshotPath(spec, 'custom', disk, 'x'))],
      ];
      // Nothing at the new path yet: a volume made since (or already moved) is never overwritten.
      if (existsSync(moves[0][1]) || !existsSync(moves[0][0])) continue;
      for (const [from, to] of moves) if (existsSync(from) && !existsSync(to)) await rename(from, to);
    }
  }
}
