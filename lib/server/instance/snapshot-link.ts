/**
 * `$INCUS_DIR/containers-snapshots/<name>` (and `virtual-machines-snapshots/`
 * for VMs): a link to the pool's folder of one instance's snapshots, as
 * Incus lays it out (storage backend ensureInstanceSnapshotSymlink and
 * removeInstanceSnapshotSymlinkIfUnused). It exists exactly while that
 * folder does: made with the first snapshot, gone with the last, moved with
 * the instance.
 */
import { lstat, readlink, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceType } from '../../api/instance';
import { childPath } from '../names';
import { instanceDirName } from './dir-name';

/** The top-level folder of each instance type's snapshot links (Incus's InstancePath with isSnapshot). */
export const SNAPSHOT_LINK_DIRS: Record<InstanceType, string> = {
  container: 'containers-snapshots',
  'virtual-machine': 'virtual-machines-snapshots',
};

/** Where the link of one instance's snapshots lives. */
export function snapshotLinkPath(varDir: string, type: InstanceType, project: string, name: string): string {
  return childPath(join(varDir, SNAPSHOT_LINK_DIRS[type]), instanceDirName(project, name));
}

/** Removes the link (and nothing but a link) if there is one. */
export async function removeSnapshotLink(link: string): Promise<void> {
  const st = await lstat(link).catch(() => null);
  if (st?.isSymbolicLink()) await unlink(link);
}

/**
 * Makes the link agree with the pool: pointing at `target` when that folder
 * exists, absent when it does not (no snapshots left, or none yet).
 */
export async function syncSnapshotLink(link: string, target: string): Promise<void> {
  const present = await lstat(target).then(
    (st) => st.isDirectory(),
    () => false,
  );
  if (present && (await readlink(link).catch(() => null)) === target) return;
  await removeSnapshotLink(link);
  if (present) await symlink(target, link);
}
