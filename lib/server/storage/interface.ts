/** The low-level storage driver interface: no database, capabilities as data. */
import type { Writable } from 'node:stream';

export type VolumeType = 'container' | 'virtual-machine' | 'image' | 'custom';

/** What a volume holds: a filesystem tree, or a raw disk (a VM root disk, a custom block volume). */
export type ContentType = 'filesystem' | 'block';

/**
 * Options of a new volume. A `virtual-machine` volume always holds a block
 * disk beside its small config filesystem; a `custom` one only with
 * contentType 'block'; an `image` volume made from a VM image (qcow2
 * rootfs) holds the image converted to raw.
 */
export interface VolumeOptions {
  /** Bytes of the block disk, rounded up to 8 KiB; default 10 GiB (Incus's DefaultBlockSize). Filesystem volumes: lvm's LV size, else ignored. */
  size?: number;
  /** Custom volumes: 'block' for a raw disk; ignored for other types. */
  contentType?: ContentType;
}

export interface StorageDriverInfo {
  name: string;
  version: string;
  /** Image volumes cached per pool, instances cloned from them. */
  optimizedImages: boolean;
  instantSnapshots: boolean;
  quotas: boolean;
  sendReceive: boolean;
  remote: boolean;
  /**
   * Backups in the driver's own format (btrfs send streams) with a
   * restoration header; the driver has backupVolume and
   * createVolumeFromBackup. Elsewhere an optimized request makes a normal backup.
   */
  optimizedBackups: boolean;
}

/** Names, under `backup/` in the tarball, of an optimized backup's volume and snapshot streams. */
export interface OptimizedBackupFiles {
  volume: string;
  snapshot(name: string): string;
}

/** Where a driver writes an optimized backup: files added to the tarball one at a time. */
export interface BackupSink {
  /** Adds `text` as backup/<member>. */
  addText(member: string, text: string): Promise<void>;
  /** Adds as backup/<member> the file `write` fills at the path it is given (a scratch file, removed after). */
  addFile(member: string, write: (path: string) => Promise<void>): Promise<void>;
}

/** Where a driver reads an optimized backup from: the members of the tarball. */
export interface BackupSource {
  /** The text of backup/<member>; null when the tarball has none. */
  readText(member: string): Promise<string | null>;
  /** Streams the content of backup/<member> into `into`, then ends it. */
  pipe(member: string, into: Writable): Promise<void>;
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
  /** Grows the pool to `bytes` (a new `size`); absent where a pool's size cannot change. */
  resizePool?(pool: PoolSpec, bytes: number): Promise<void>;
  mountPool(pool: PoolSpec): Promise<void>;
  volumePath(pool: PoolSpec, type: VolumeType, name: string): string;
  /**
   * An empty volume (an instance created with source type none); with
   * block content (see VolumeOptions) also a sparse raw disk of `size`.
   */
  createVolume(pool: PoolSpec, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void>;
  /**
   * A volume filled from an image: a unified tarball, or a split image's two
   * files. A split VM image (rootfsFile a qcow2) gives its metadata to the
   * volume's directory and its disk, converted to raw, to the block disk;
   * a `virtual-machine` volume's disk then grows to opts.size (default 10 GiB;
   * 400 when the image is larger), an `image` volume's stays the image's size.
   */
  createVolumeFromImage(pool: PoolSpec, type: VolumeType, name: string, imageFile: string, rootfsFile?: string, opts?: VolumeOptions): Promise<void>;
  /**
   * Where a block volume's raw disk is (dir, btrfs: `<volume>/root.img`;
   * lvm: the `.block` LV's device); meaningful only for block content.
   */
  blockPath(pool: PoolSpec, type: VolumeType, name: string): string;
  /** Grows a volume's block disk to bytes (rounded up); 400 "Block volumes cannot be shrunk: ..." when smaller. */
  resizeBlockVolume(pool: PoolSpec, type: VolumeType, name: string, bytes: number): Promise<void>;
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

  /**
   * A writable copy of another volume of the same pool, instant where the
   * driver can (present when info.optimizedImages). A block disk comes
   * along; cloned from a VM image volume into a `virtual-machine` volume it
   * then grows to opts.size (default 10 GiB; 400 when the image is larger).
   */
  cloneVolume?(pool: PoolSpec, srcType: VolumeType, srcName: string, type: VolumeType, name: string, opts?: VolumeOptions): Promise<void>;
  /**
   * Limits a volume to bytes (null: no limit); absent when the driver has no
   * quotas. On a volume holding a block disk it grows the disk instead (never shrinks).
   */
  setVolumeQuota?(pool: PoolSpec, type: VolumeType, name: string, bytes: number | null): Promise<void>;
  /** Bytes a volume uses, null when unknown. */
  volumeUsage?(pool: PoolSpec, type: VolumeType, name: string): Promise<number | null>;
  /**
   * Copies a volume or snapshot of this pool, named by its path, to a new
   * volume or snapshot path of the same pool (instant where the driver can);
   * `readonly` for a snapshot. Absent: callers fall back to createVolume + rsync.
   */
  copyVolume?(pool: PoolSpec, srcPath: string, dstPath: string, readonly: boolean): Promise<void>;

  /**
   * An optimized backup (present when info.optimizedBackups): the driver's
   * restoration header (`optimized_header.yaml`), then each snapshot
   * (oldest first, each a delta from the one before) and the volume as
   * the driver's own streams, under the names `files` gives.
   */
  backupVolume?(pool: PoolSpec, type: VolumeType, name: string, snapshots: readonly string[], files: OptimizedBackupFiles, sink: BackupSink): Promise<void>;
  /**
   * The volume and its snapshots made from such a backup (present when
   * info.optimizedBackups); on failure nothing of them is left.
   */
  createVolumeFromBackup?(pool: PoolSpec, type: VolumeType, name: string, snapshots: readonly string[], files: OptimizedBackupFiles, source: BackupSource): Promise<void>;
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
