/** Custom volume backup rows (Incus's storage_volumes_backups); each tarball lives under the daemon's backups folder. */
import { NO_EXPIRY } from './snapshots';
import { type Sql, Statements } from './sql';

export interface VolumeBackupRecord {
  id: number;
  volumeId: number;
  name: string;
  createdAt: string;
  /** Go's zero time when the backup does not expire. */
  expiresAt: string;
  volumeOnly: boolean;
  optimizedStorage: boolean;
  /** none, gzip, xz, zstd or bzip2. */
  compression: string;
}

/** An expired backup with the volume it belongs to, for the pruning task. */
export interface ExpiredVolumeBackup {
  pool: string;
  project: string;
  volume: string;
  backup: string;
}

interface Row {
  id: number;
  storage_volume_id: number;
  name: string;
  created_at: string;
  expires_at: string;
  volume_only: number;
  optimized_storage: number;
  compression: string;
}

const COLUMNS = 'id, storage_volume_id, name, created_at, expires_at, volume_only, optimized_storage, compression';

export class VolumeBackupQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      ofVolume: s.prepare<[number], Row>(`SELECT ${COLUMNS} FROM storage_volumes_backups WHERE storage_volume_id = ? ORDER BY created_at, id`),
      one: s.prepare<[number, string], Row>(`SELECT ${COLUMNS} FROM storage_volumes_backups WHERE storage_volume_id = ? AND name = ?`),
      insert: s.named(
        `INSERT INTO storage_volumes_backups (storage_volume_id, name, created_at, expires_at, volume_only, optimized_storage, compression)
         VALUES (@volumeId, @name, @createdAt, @expiresAt, @volumeOnly, @optimizedStorage, @compression)`,
      ),
      rename: s.prepare('UPDATE storage_volumes_backups SET name = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM storage_volumes_backups WHERE id = ?'),
      expired: s.prepare<[string, string], ExpiredVolumeBackup>(
        `SELECT sp.name AS pool, p.name AS project, v.name AS volume, b.name AS backup
         FROM storage_volumes_backups b JOIN storage_volumes v ON v.id = b.storage_volume_id
         JOIN storage_pools sp ON sp.id = v.pool_id JOIN projects p ON p.id = v.project_id
         WHERE b.expires_at != ? AND julianday(b.expires_at) <= julianday(?) ORDER BY julianday(b.expires_at)`,
      ),
    };
  }

  /** A volume's backups, oldest first. */
  async list(volumeId: number): Promise<VolumeBackupRecord[]> {
    return (await this.st.ofVolume.all(volumeId)).map(toRecord);
  }

  async get(volumeId: number, name: string): Promise<VolumeBackupRecord | undefined> {
    const r = await this.st.one.get(volumeId, name);
    return r ? toRecord(r) : undefined;
  }

  /** Inserts a row; throws on a duplicate name (UNIQUE). */
  async create(b: Omit<VolumeBackupRecord, 'id'>): Promise<VolumeBackupRecord> {
    const info = await this.st.insert.run({ ...b, volumeOnly: b.volumeOnly ? 1 : 0, optimizedStorage: b.optimizedStorage ? 1 : 0 });
    return { ...b, id: Number(info.lastInsertRowid) };
  }

  async rename(id: number, name: string): Promise<void> {
    await this.st.rename.run(name, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }

  /** Backups whose expiry is at or before `now`. */
  async expired(now: string): Promise<ExpiredVolumeBackup[]> {
    return this.st.expired.all(NO_EXPIRY, now);
  }
}

function toRecord(r: Row): VolumeBackupRecord {
  return {
    id: r.id,
    volumeId: r.storage_volume_id,
    name: r.name,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    volumeOnly: r.volume_only === 1,
    optimizedStorage: r.optimized_storage === 1,
    compression: r.compression,
  };
}
