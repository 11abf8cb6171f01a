/** The low-level storage driver interface: no database, capabilities as data. */

export type VolumeType = 'container' | 'virtual-machine' | 'image' | 'custom';

export interface StorageDriverInfo {
  name: string;
  version: string;
  /** Image volumes cached per pool, instances cloned from them. */
  optimizedImages: boolean;
  instantSnapshots: boolean;
  quotas: boolean;
  sendReceive: boolean;
  remote: boolean;
}

export interface PoolSpec {
  name: string;
  config: Record<string, string>;
  /** Where the pool is mounted: $INCUS_DIR/storage-pools/<name>. */
  mountPath: string;
}

export interface StorageDriver {
  readonly info: StorageDriverInfo;
  /** Throws a 400 naming the first invalid key; fills in defaults (e.g. source). */
  fillPoolConfig(pool: PoolSpec): Record<string, string>;
  createPool(pool: PoolSpec): Promise<void>;
  deletePool(pool: PoolSpec): Promise<void>;
  mountPool(pool: PoolSpec): Promise<void>;
  volumePath(pool: PoolSpec, type: VolumeType, name: string): string;
  /** An empty filesystem volume (an instance created with source type none). */
  createVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void>;
  /** A filesystem volume filled from an image: a unified tarball, or a split image's two files. */
  createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string): Promise<void>;
  deleteVolume(pool: PoolSpec, type: VolumeType, name: string): Promise<void>;
  renameVolume(pool: PoolSpec, type: VolumeType, from: string, to: string): Promise<void>;

  /** Where a volume's snapshot lives: <pool>/<type>-snapshots/<name>/<snap>. */
  snapshotPath(pool: PoolSpec, type: VolumeType, name: string, snap: string): string;
  /** A read-only point-in-time copy of the volume (instant where the driver can). */
  createSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void>;
  deleteSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void>;
  renameSnapshot(pool: PoolSpec, type: VolumeType, name: string, from: string, to: string): Promise<void>;
  /** Makes the volume's content that of the snapshot again. */
  restoreSnapshot(pool: PoolSpec, type: VolumeType, name: string, snap: string): Promise<void>;

  /** A writable copy of another volume of the same pool, instant where the driver can (present when info.optimizedImages). */
  cloneVolume?(pool: PoolSpec, srcType: VolumeType, srcName: string, type: VolumeType, name: string): Promise<void>;
  /** Limits a volume to bytes (null: no limit); absent when the driver has no quotas. */
  setVolumeQuota?(pool: PoolSpec, type: VolumeType, name: string, bytes: number | null): Promise<void>;
  /** Bytes a volume uses, null when unknown. */
  volumeUsage?(pool: PoolSpec, type: VolumeType, name: string): Promise<number | null>;
  /**
   * Copies a volume or snapshot of this pool, named by its path, to a new
   * volume or snapshot path of the same pool (instant where the driver can);
   * `readonly` for a snapshot. Absent: callers fall back to createVolume + rsync.
   */
  copyVolume?(pool: PoolSpec, srcPath: string, dstPath: string, readonly: boolean): Promise<void>;
}

/** Directory name of each volume type inside a pool, as Incus lays them out. */
export const VOLUME_DIRS: Record<VolumeType, string> = {
  container: 'containers',
  'virtual-machine': 'virtual-machines',
  image: 'images',
  custom: 'custom',
};

/** Directory name of each volume type's snapshots inside a pool. */
export const SNAPSHOT_DIRS: Record<VolumeType, string> = {
  container: 'containers-snapshots',
  'virtual-machine': 'virtual-machines-snapshots',
  image: 'images-snapshots',
  custom: 'custom-snapshots',
};
