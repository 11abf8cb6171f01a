/** Instance backup rows; the tarball of each lives on disk under the daemon's backups folder. */
import { type Sql, Statements } from './sql';

export interface BackupRecord {
  id: number;
  instanceId: number;
  name: string;
  createdAt: string;
  /** Go's zero time when the backup does not expire. */
  expiresAt: string;
  instanceOnly: boolean;
  optimizedStorage: boolean;
  /** none, gzip, xz, zstd or bzip2. */
  compression: string;
}

interface Row {
  id: number;
  instance_id: number;
  name: string;
  created_at: string;
  expires_at: string;
  instance_only: number;
  optimized_storage: number;
  compression: string;
}

const COLUMNS = 'id, instance_id, name, created_at, expires_at, instance_only, optimized_storage, compression';

export class BackupQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      ofInstance: s.prepare<[number], Row>(`SELECT ${COLUMNS} FROM instance_backups WHERE instance_id = ? ORDER BY created_at, id`),
      one: s.prepare<[number, string], Row>(`SELECT ${COLUMNS} FROM instance_backups WHERE instance_id = ? AND name = ?`),
      insert: s.named(
        `INSERT INTO instance_backups (instance_id, name, created_at, expires_at, instance_only, optimized_storage, compression)
         VALUES (@instanceId, @name, @createdAt, @expiresAt, @instanceOnly, @optimizedStorage, @compression)`,
      ),
      rename: s.prepare('UPDATE instance_backups SET name = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM instance_backups WHERE id = ?'),
    };
  }

  /** An instance's backups, oldest first. */
  async list(instanceId: number): Promise<BackupRecord[]> {
    return (await this.st.ofInstance.all(instanceId)).map(toRecord);
  }

  async get(instanceId: number, name: string): Promise<BackupRecord | undefined> {
    const r = await this.st.one.get(instanceId, name);
    return r ? toRecord(r) : undefined;
  }

  /** Inserts a row; throws on a duplicate name (UNIQUE). */
  async create(b: Omit<BackupRecord, 'id'>): Promise<BackupRecord> {
    const info = await this.st.insert.run({ ...b, instanceOnly: b.instanceOnly ? 1 : 0, optimizedStorage: b.optimizedStorage ? 1 : 0 });
    return { ...b, id: Number(info.lastInsertRowid) };
  }

  async rename(id: number, name: string): Promise<void> {
    await this.st.rename.run(name, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }
}

function toRecord(r: Row): BackupRecord {
  return {
    id: r.id,
    instanceId: r.instance_id,
    name: r.name,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    instanceOnly: r.instance_only === 1,
    optimizedStorage: r.optimized_storage === 1,
    compression: r.compression,
  };
}
