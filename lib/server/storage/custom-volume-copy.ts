/**
 * The content side of a custom volume copy inside one server (POST
 * .../volumes with `source.type: copy`), as Incus does it: from the source
 * volume or one of its snapshots (`<volume>/<snapshot>`), with the source's
 * snapshots unless `volume_only`; a refresh brings an existing copy up to
 * date (the snapshots it lacks, then the content). Snapshots of a generic
 * copy are built in the new volume, oldest first, before its final content.
 */
import type { Reverter } from '../revert';
import { run } from '../images/run';
import type { ContentType, PoolSpec, StorageDriver, VolumeType } from './interface';

/** One end of a copy: a pool's driver and spec, and the volume's storage name. */
export interface CopyEnd {
  sd: StorageDriver;
  spec: PoolSpec;
  type: VolumeType;
  disk: string;
}

export interface CopyContent {
  /** Copy from this snapshot of the source, not from the volume. */
  fromSnapshot?: string;
  /** Source snapshots to recreate in the new volume, oldest first. */
  snapshots: readonly string[];
  contentType: ContentType;
  /** A block volume's disk size in bytes. */
  size?: number;
}

/** rsync keeping owners, hard links, ACLs, xattrs and holes; the target ends identical to the source. */
export async function syncVolumeTree(from: string, to: string): Promise<void> {
  await run('rsync', ['-aHAXS', '--numeric-ids', '--delete', `${from}/`, `${to}/`]);
}

const sourcePath = (src: CopyEnd, snap?: string): string =>
  snap === undefined ? src.sd.volumePath(src.spec, src.type, src.disk) : src.sd.snapshotPath(src.spec, src.type, src.disk, snap);

/**
 * Builds each snapshot in `dst` from the source snapshot of that name: its
 * content synced into the volume, then a snapshot taken.
 */
export async function syncSnapshotsInto(src: CopyEnd, dst: CopyEnd, snaps: readonly string[], r: Reverter): Promise<void> {
  const to = dst.sd.volumePath(dst.spec, dst.type, dst.disk);
  for (const s of snaps) {
    await syncVolumeTree(sourcePath(src, s), to);
    r.add(() => dst.sd.deleteSnapshot(dst.spec, dst.type, dst.disk, s));
    await dst.sd.createSnapshot(dst.spec, dst.type, dst.disk, s);
  }
}

/**
 * Makes `dst` a copy of `src` (undone through `r`): a driver clone inside
 * one pool where the driver has one (snapshots then copied path to path),
 * else a new volume filled by rsync.
 */
export async function copyVolumeContent(src: CopyEnd, dst: CopyEnd, c: CopyContent, r: Reverter): Promise<void> {
  const samePool = src.spec.name === dst.spec.name && src.sd === dst.sd;
  const clone = samePool && c.fromSnapshot === undefined && dst.sd.cloneVolume && (c.snapshots.length === 0 || dst.sd.copyVolume);
  r.add(() => dst.sd.deleteVolume(dst.spec, dst.type, dst.disk));
  if (clone) {
    // A copy keeps the source's disk, grown when the new volume asks for more.
    await dst.sd.cloneVolume!(dst.spec, src.type, src.disk, dst.type, dst.disk, { contentType: c.contentType, size: c.size });
    for (const s of c.snapshots) {
      r.add(() => dst.sd.deleteSnapshot(dst.spec, dst.type, dst.disk, s));
      await dst.sd.copyVolume!(dst.spec, sourcePath(src, s), dst.sd.snapshotPath(dst.spec, dst.type, dst.disk, s), true);
    }
    return;
  }
  await dst.sd.createVolume(dst.spec, dst.type, dst.disk);
  await syncSnapshotsInto(src, dst, c.snapshots, r);
  await syncVolumeTree(sourcePath(src, c.fromSnapshot), dst.sd.volumePath(dst.spec, dst.type, dst.disk));
  if (c.size !== undefined) await dst.sd.resizeBlockVolume(dst.spec, dst.type, dst.disk, c.size);
}

/** A refresh's content: the snapshots the copy lacks, then the source's (or its snapshot's) content. */
export async function refreshVolumeContent(src: CopyEnd, dst: CopyEnd, fromSnapshot: string | undefined, snaps: readonly string[], r: Reverter): Promise<void> {
  await syncSnapshotsInto(src, dst, snaps, r);
  await syncVolumeTree(sourcePath(src, fromSnapshot), dst.sd.volumePath(dst.spec, dst.type, dst.disk));
}
