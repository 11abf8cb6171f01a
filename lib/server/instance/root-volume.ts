/**
 * Filling an instance's root volume: from an image (cloned from the pool's
 * image volume where the driver can, unpacked otherwise) or empty, sized,
 * and shifted to the host id map when the container can use neither
 * privileged mode nor idmapped mounts. Shared by create and rebuild.
 */
import type { InstanceRecord } from '../db/instances';
import type { PoolRecord } from '../db/storage-pools';
import { storageName } from '../storage/volume-names';
import { shiftTree } from '../../native/idmap';
import { parseSize } from './config/units';
import type { ManagerDeps } from './manager';

export interface RootVolumeSpec {
  imageFingerprint: string | null;
  /** The root disk's `size`, if any. */
  rootSize: string | undefined;
  /** Shift the rootfs on disk to the host id map (unprivileged, no idmapped mounts). */
  shift: boolean;
  /** Where the volume's rootfs lives once made (the runtime's volume path). */
  volumePath: () => Promise<string>;
}

export async function makeRootVolume(deps: ManagerDeps, pool: PoolRecord, rec: Pick<InstanceRecord, 'project' | 'name' | 'type'>, spec: RootVolumeSpec): Promise<void> {
  const { pools, images } = deps;
  const sd = pools.driver(pool);
  const poolSpec = pools.spec(pool);
  const type = rec.type;
  const disk = storageName(rec.project, rec.name);
  // A VM's disk is made at its size (default 10GiB); a container's size is a quota set afterwards.
  const opts = type === 'virtual-machine' && spec.rootSize ? { size: parseSize(spec.rootSize) ?? undefined } : undefined;
  if (spec.imageFingerprint) {
    const fp = spec.imageFingerprint;
    await images.ensureLocal(fp);
    const rootfs = images.rootfsPath(fp) ?? undefined;
    if (sd.info.optimizedImages && sd.cloneVolume) {
      await pools.ensureImageVolume(pool, fp, images.path(fp), rootfs);
      await sd.cloneVolume(poolSpec, 'image', fp, type, disk, opts);
    } else {
      await sd.createVolumeFromImage(poolSpec, type, disk, images.path(fp), rootfs, opts);
    }
  } else {
    await sd.createVolume(poolSpec, type, disk, opts);
  }
  if (spec.rootSize && type === 'container') await pools.applyQuota(pool, type, disk, spec.rootSize);
  if (type === 'container' && spec.shift) {
    await shiftTree(`${await spec.volumePath()}/rootfs`, deps.idmap.uid.hostBase, deps.idmap.gid.hostBase);
  }
}
