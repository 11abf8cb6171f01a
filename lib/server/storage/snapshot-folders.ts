/**
 * The snapshot folder of a volume when the volume itself is
 * deleted or renamed (an instance's or a custom volume's): it goes or moves with it.
 */
import { access, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PoolSpec, StorageDriver, VolumeType } from './interface';

/** The folder holding all snapshots of one volume (the parent of any one snapshot). */
export function snapshotsDir(sd: StorageDriver, spec: PoolSpec, type: VolumeType, name: string): string {
  return dirname(sd.snapshotPath(spec, type, name, 'x'));
}

const exists = (p: string): Promise<boolean> =>
  access(p).then(
    () => true,
    () => false,
  );

/** Deletes each named snapshot through the driver, then the volume's snapshot folder. */
export async function deleteSnapshotVolumes(sd: StorageDriver, spec: PoolSpec, type: VolumeType, name: string, snaps: readonly string[]): Promise<void> {
  for (const s of snaps) await sd.deleteSnapshot(spec, type, name, s);
  await rm(snapshotsDir(sd, spec, type, name), { recursive: true, force: true });
}

/**
 * Moves a renamed volume's snapshot folder to the new name, unless the
 * driver's renameVolume already did.
 */
export async function moveSnapshotVolumes(sd: StorageDriver, spec: PoolSpec, type: VolumeType, from: string, to: string): Promise<void> {
  const src = snapshotsDir(sd, spec, type, from);
  const dst = snapshotsDir(sd, spec, type, to);
  if ((await exists(src)) && !(await exists(dst))) await rename(src, dst);
}
