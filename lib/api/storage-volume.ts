/** Storage volumes (`/1.0/storage-pools/{pool}/volumes`). */

export interface StorageVolumePut {
  config: Record<string, string>;
  description: string;
}

export interface StorageVolume extends StorageVolumePut {
  name: string;
  type: string;
  used_by: string[];
  location: string;
  content_type: string;
  project: string;
  created_at: string;
}

/** Where a new volume's content comes from: nothing, a copy of another volume, or a migration from another server. */
export interface StorageVolumeSource {
  name?: string;
  /** '' (empty), `copy` or `migration`. */
  type?: string;
  pool?: string;
  project?: string;
  volume_only?: boolean;
  /** Migration: `pull` (we dial `operation`) or `push` (the source dials us). */
  mode?: string;
  operation?: string;
  websockets?: Record<string, string>;
  certificate?: string;
  refresh?: boolean;
  refresh_exclude_older?: boolean;
}

/** Where the source of a push migration connects (the target's operation). */
export interface StorageVolumePostTarget {
  operation?: string;
  websockets?: Record<string, string>;
  certificate?: string;
}

export interface StorageVolumesPost extends Partial<StorageVolumePut> {
  name: string;
  type: string;
  content_type?: string;
  source?: StorageVolumeSource;
}

/** Rename, or move to another pool when `pool` names one. */
export interface StorageVolumePost {
  name: string;
  pool?: string;
  project?: string;
  migration?: boolean;
  volume_only?: boolean;
  target?: StorageVolumePostTarget | null;
}

/** `GET /1.0/storage-pools/{pool}/volumes/{type}/{name}/state`. */
export interface StorageVolumeState {
  usage: { used: number; total: number } | null;
}

/** `GET /1.0/storage-pools/{pool}/resources`. */
export interface StoragePoolResources {
  space: { used: number; total: number };
  inodes: { used: number; total: number };
}

/** The writable part of a volume snapshot (PUT body). */
export interface StorageVolumeSnapshotPut {
  description: string;
  /** RFC 3339; Go's zero time for none. */
  expires_at: string;
}

/** `GET .../volumes/{type}/{name}/snapshots/{snap}`. */
export interface StorageVolumeSnapshot extends StorageVolumeSnapshotPut {
  name: string;
  config: Record<string, string>;
  content_type: string;
  created_at: string;
}

/** `POST .../snapshots/{snap}`: rename, or (`migration: true`) send the snapshot as a volume of its own. */
export interface StorageVolumeSnapshotPost {
  name: string;
  migration?: boolean;
  target?: StorageVolumePostTarget | null;
}
