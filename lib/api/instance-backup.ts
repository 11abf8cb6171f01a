/** Instance backups (`/1.0/instances/{name}/backups`): wire types with Incus's field names. */
import type { Instance } from './instance';
import type { InstanceSnapshot } from './instance-snapshot';
import type { Profile } from './profile';
import type { StoragePool } from './storage-pool';
import type { StorageVolume, StorageVolumeSnapshot } from './storage-volume';

/** POST /1.0/instances/{name}/backups body. */
export interface InstanceBackupsPost {
  name?: string;
  /** RFC 3339; absent or Go's zero time: never expires. */
  expires_at?: string;
  instance_only?: boolean;
  optimized_storage?: boolean;
  /** none, gzip (default), xz, zstd, bzip2. */
  compression_algorithm?: string;
}

/** POST /1.0/instances/{name}/backups/{backup} body (rename). */
export interface InstanceBackupPost {
  name: string;
}

export interface InstanceBackup {
  name: string;
  created_at: string;
  expires_at: string;
  instance_only: boolean;
  optimized_storage: boolean;
}

/**
 * `backup/index.yaml` at the head of a backup tarball (Incus's backup.Info),
 * with the instance's config embedded.
 */
export interface BackupIndex {
  name: string;
  backend: string;
  pool: string;
  snapshots?: string[];
  optimized?: boolean;
  optimized_header?: boolean;
  type?: string;
  config?: {
    container?: Instance;
    snapshots?: InstanceSnapshot[];
    pool?: StoragePool;
    profiles?: Profile[];
    volume?: StorageVolume;
    volume_snapshots?: StorageVolumeSnapshot[];
  };
}
