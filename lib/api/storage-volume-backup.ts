/** Custom volume backups (`/1.0/storage-pools/{pool}/volumes/custom/{vol}/backups`): wire types with Incus's field names. */

/** POST .../backups body. */
export interface StorageVolumeBackupsPost {
  name?: string;
  /** RFC 3339; absent or Go's zero time: never expires. */
  expires_at?: string;
  volume_only?: boolean;
  optimized_storage?: boolean;
  /** none, gzip (default), xz, zstd, bzip2. */
  compression_algorithm?: string;
}

/** POST .../backups/{backup} body (rename). */
export interface StorageVolumeBackupPost {
  name: string;
}

export interface StorageVolumeBackup {
  name: string;
  created_at: string;
  expires_at: string;
  volume_only: boolean;
  optimized_storage: boolean;
}
