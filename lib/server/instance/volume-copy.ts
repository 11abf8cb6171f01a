/**
 * Copies an instance's root volume (and the snapshots named) to a new
 * instance volume: through the driver's copyVolume inside one pool (a
 * reflink copy or a btrfs subvolume snapshot), otherwise volume by volume
 * with rsync. Every volume made is undone through the Reverter on failure.
 */
import { chmod } from 'node:fs/promises';
import type { Reverter } from '../revert';
import { run } from '../images/run';
import type { PoolSpec, StorageDriver, VolumeType } from '../storage/interface';
import { volumeDirMode } from '../storage/modes';

/** One end of a copy: a pool's driver and spec, and the instance volume name. */
export interface VolumeEnd {
  sd: StorageDriver;
  spec: PoolSpec;
  type: VolumeType;
  name: string;
}

/**
 * Makes `dst`'s volume (copy of `srcPath`, the source volume or one of its
 * snapshots) and one snapshot per entry of `snaps` (each copied from the
 * source snapshot of that name). Snapshots go first so a generic copy can
 * build each one in the new volume before its final content lands.
 */
export async function copyInstanceVolume(src: VolumeEnd, srcPath: string, dst: VolumeEnd, snaps: readonly string[], r: Reverter): Promise<void> {
  const samePool = src.spec.name === dst.spec.name && src.sd === dst.sd;
  const copy = samePool ? dst.sd.copyVolume?.bind(dst.sd) : undefined;
  const dstPath = dst.sd.volumePath(dst.spec, dst.type, dst.name);
  // A copy takes the source's directory mode, which an older volume or snapshot may have looser.
  const closeUp = () => chmod(dstPath, volumeDirMode(dst.type));
  if (copy) {
    r.add(() => dst.sd.deleteVolume(dst.spec, dst.type, dst.name));
    await copy(dst.spec, srcPath, dstPath, false);
    await closeUp();
    for (const s of snaps) {
      r.add(() => dst.sd.deleteSnapshot(dst.spec, dst.type, dst.name, s));
      await copy(dst.spec, src.sd.snapshotPath(src.spec, src.type, src.name, s), dst.sd.snapshotPath(dst.spec, dst.type, dst.name, s), true);
    }
    return;
  }
  r.add(() => dst.sd.deleteVolume(dst.spec, dst.type, dst.name));
  await dst.sd.createVolume(dst.spec, dst.type, dst.name);
  for (const s of snaps) {
    await syncTree(src.sd.snapshotPath(src.spec, src.type, src.name, s), dstPath);
    await closeUp();
    r.add(() => dst.sd.deleteSnapshot(dst.spec, dst.type, dst.name, s));
    await dst.sd.createSnapshot(dst.spec, dst.type, dst.name, s);
  }
  await syncTree(srcPath, dstPath);
  await closeUp();
}

/**
 * rsync keeping owners, hard links, ACLs and xattrs; the target ends
 * identical to the source (mtimes compared to the nanosecond, as Incus's
 * LocalCopy, so that a refresh sees every change).
 */
export async function syncTree(from: string, to: string): Promise<void> {
  await run('rsync', ['-aHAX', '--numeric-ids', '--delete', '--modify-window=-1', `${from}/`, `${to}/`]);
}
