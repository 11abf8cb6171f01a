/** Storage pool rows and the volumes they hold. */
import { type Database, jsonMap } from './database';

export interface PoolRecord {
  id: number;
  name: string;
  driver: string;
  description: string;
  config: Record<string, string>;
  status: string;
}

export interface VolumeRecord {
  id: number;
  pool: string;
  project: string;
  name: string;
  type: string;
  contentType: string;
  description: string;
  config: Record<string, string>;
  createdAt: string;
}

interface PoolRow {
  id: number;
  name: string;
  driver: string;
  description: string;
  config: string;
  status: string;
}

interface VolumeRow {
  id: number;
  pool: string;
  project: string;
  name: string;
  type: string;
  content_type: string;
  description: string;
  config: string;
  created_at: string;
}

const SELECT_VOLUME = `SELECT v.id, sp.name AS pool, p.name AS project, v.name, v.type, v.content_type,
  v.description, v.config, v.created_at
  FROM storage_volumes v JOIN storage_pools sp ON sp.id = v.pool_id JOIN projects p ON p.id = v.project_id`;

export class StoragePoolQueries {
  private readonly st;

  constructor(db: Database) {
    const s = db.sql;
    this.st = {
      list: s.prepare<[], PoolRow>('SELECT * FROM storage_pools ORDER BY name'),
      one: s.prepare<[string], PoolRow>('SELECT * FROM storage_pools WHERE name = ?'),
      insert: s.prepare('INSERT INTO storage_pools (name, driver, description, config, status) VALUES (?, ?, ?, ?, ?)'),
      update: s.prepare('UPDATE storage_pools SET description = ?, config = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM storage_pools WHERE id = ?'),
      volumes: s.prepare<[string], VolumeRow>(`${SELECT_VOLUME} WHERE sp.name = ? ORDER BY v.type, v.name`),
      volume: s.prepare<[string, string, string, string], VolumeRow>(
        `${SELECT_VOLUME} WHERE sp.name = ? AND p.name = ? AND v.type = ? AND v.name = ?`,
      ),
      volumeOf: s.prepare<[string, string, string], VolumeRow>(
        `${SELECT_VOLUME} WHERE p.name = ? AND v.type = ? AND v.name = ?`,
      ),
      insertVolume: s.prepare(
        `INSERT INTO storage_volumes (pool_id, project_id, name, type, content_type, description, config, created_at)
         VALUES ((SELECT id FROM storage_pools WHERE name = @pool), (SELECT id FROM projects WHERE name = @project),
           @name, @type, @contentType, @description, @config, @createdAt)`,
      ),
      renameVolume: s.prepare('UPDATE storage_volumes SET name = ? WHERE id = ?'),
      updateVolume: s.prepare('UPDATE storage_volumes SET description = ?, config = ? WHERE id = ?'),
      removeVolume: s.prepare('DELETE FROM storage_volumes WHERE id = ?'),
    };
  }

  list(): PoolRecord[] {
    return this.st.list.all().map(toPool);
  }

  get(name: string): PoolRecord | undefined {
    const r = this.st.one.get(name);
    return r ? toPool(r) : undefined;
  }

  create(p: Omit<PoolRecord, 'id'>): PoolRecord {
    const info = this.st.insert.run(p.name, p.driver, p.description, JSON.stringify(p.config), p.status);
    return { ...p, id: Number(info.lastInsertRowid) };
  }

  update(p: PoolRecord): void {
    this.st.update.run(p.description, JSON.stringify(p.config), p.id);
  }

  delete(id: number): void {
    this.st.remove.run(id);
  }

  volumes(pool: string): VolumeRecord[] {
    return this.st.volumes.all(pool).map(toVolume);
  }

  volume(pool: string, project: string, type: string, name: string): VolumeRecord | undefined {
    const r = this.st.volume.get(pool, project, type, name);
    return r ? toVolume(r) : undefined;
  }

  /** The volume of that type and name in any pool (an instance's root volume). */
  volumeOf(project: string, type: string, name: string): VolumeRecord | undefined {
    const r = this.st.volumeOf.get(project, type, name);
    return r ? toVolume(r) : undefined;
  }

  createVolume(v: Omit<VolumeRecord, 'id'>): VolumeRecord {
    const info = this.st.insertVolume.run({ ...v, config: JSON.stringify(v.config) });
    return { ...v, id: Number(info.lastInsertRowid) };
  }

  renameVolume(id: number, name: string): void {
    this.st.renameVolume.run(name, id);
  }

  updateVolume(v: VolumeRecord): void {
    this.st.updateVolume.run(v.description, JSON.stringify(v.config), v.id);
  }

  deleteVolume(id: number): void {
    this.st.removeVolume.run(id);
  }
}

function toPool(r: PoolRow): PoolRecord {
  return { ...r, config: jsonMap(r.config) };
}

function toVolume(r: VolumeRow): VolumeRecord {
  return {
    id: r.id,
    pool: r.pool,
    project: r.project,
    name: r.name,
    type: r.type,
    contentType: r.content_type,
    description: r.description,
    config: jsonMap(r.config),
    createdAt: r.created_at,
  };
}
