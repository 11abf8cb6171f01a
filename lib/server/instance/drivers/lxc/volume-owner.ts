/**
 * Who may traverse an instance's volume directory (mode 0100, see
 * storage/modes.ts) while it runs. liblxc mounts a rootfs shifted on disk
 * from inside the container's user namespace, as the container's root
 * (a host uid of its map), so that uid owns the directory for the run, as
 * Incus does (driver_lxc.go startCommon, onStop). An idmapped rootfs is
 * cloned by liblxc as host root at start, but a reboot inside the container
 * mounts it again from the user namespace, so the map's root owns it too.
 */
import { chmod, chown } from 'node:fs/promises';
import type { IdmapEntry } from '../../idmap-alloc';
import type { InstanceRuntime } from '../../interface';
import { volumeDirMode } from '../../../storage/modes';

const INSTANCE_DIR_MODE = volumeDirMode('container');

/** The host uid that the container's uid 0 maps to (0 without a map or a uid 0 entry). */
export function hostRootUid(idmap: IdmapEntry[] | null): number {
  const e = idmap?.find((x) => x.isUid && x.nsId <= 0 && 0 < x.nsId + x.range);
  return e ? e.hostId - e.nsId : 0;
}

/** Before a start: the volume directory traversable by whoever mounts the rootfs, and by no one else. */
export async function claimVolumeDir(inst: Pick<InstanceRuntime, 'volumePath' | 'idmap' | 'idmappedRootfs'>): Promise<void> {
  // Idmapped too: liblxc 5.0.2 drops the rootfs's idmap option when init
  // asks for a reboot and mounts the rootfs again from inside the user
  // namespace, which then needs to traverse this directory.
  const uid = inst.idmap !== null ? hostRootUid(inst.idmap) : 0;
  await chown(inst.volumePath, uid, 0);
  await chmod(inst.volumePath, INSTANCE_DIR_MODE);
}

/** After a stop: root's alone again (the map may go to another instance). */
export async function releaseVolumeDir(volumePath: string): Promise<void> {
  try {
    await chown(volumePath, 0, 0);
    await chmod(volumePath, INSTANCE_DIR_MODE);
  } catch (err) {
    // Gone already (an ephemeral instance deleted as it stopped).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
