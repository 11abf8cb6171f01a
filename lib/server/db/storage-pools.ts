/** Storage pool rows and the volumes they hold. */
import { jsonMap } from './database';
import { type Sql, Statements } from './sql';

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

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      list: s.prepare<[], PoolRow>('SELECT * FROM storage_pools ORDER BY name'),
      one: s.prepare<[string], PoolRow>('SELECT * FROM storage_pools WHERE name = ?'),
      insert: s.prepare('INSERT INTO storage_pools (name, driver, description, config, status) VALUES (?, ?, ?, ?, ?)'),
      update: s.prepare('UPDATE storage_pools SET description = ?, config = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM storage_pools WHERE id = ?'),
      volumes: s.prepare<[string], VolumeRow>(`${SELECT_VOLUME} WHERE sp.name = ? ORDER BY v.type, v.name`),
      countByProject: s.prepare<[string], { project: string; n: number }>(
        'SELECT p.name AS project, COUNT(*) AS n FROM storage_volumes v JOIN projects p ON p.id = v.project_id WHERE v.type = ? GROUP BY p.name',
      ),
      volume: s.prepare<[string, string, string, string], VolumeRow>(
        `${SELECT_VOLUME} WHERE sp.name = ? AND p.name = ? AND v.type = ? AND v.name = ?`,
      ),
      volumeOf: s.prepare<[string, string, string], VolumeRow>(
        `${SELECT_VOLUME} WHERE p.name = ? AND v.type = ? AND v.name = ?`,
      ),
      insertVolume: s.named(
        `INSERT INTO storage_volumes (pool_id, project_id, name, type, content_type, description, config, created_at)
         VALUES ((SELECT id FROM storage_pools WHERE name = @pool), (SELECT id FROM projects WHERE name = @project),
           @name, @type, @contentType, @description, @config, @createdAt)`,
      ),
      renameVolume: s.prepare('UPDATE storage_volumes SET name = ? WHERE id = ?'),
      updateVolume: s.prepare('UPDATE storage_volumes SET description = ?, config = ? WHERE id = ?'),
      removeVolume: s.prepare('DELETE FROM storage_volumes WHERE id = ?'),
    };
  }

  async list(): Promise<PoolRecord[]> {
    return (await this.st.list.all()).map(toPool);
  }

  async get(name: string): Promise<PoolRecord | undefined> {
    const r = await this.st.one.get(name);
    return r ? toPool(r) : undefined;
  }

  async create(p: Omit<PoolRecord, 'id'>): Promise<PoolRecord> {
    const info = await this.st.insert.run(p.name, p.driver, p.description, JSON.stringify(p.config), p.status);
    return { ...p, id: Number(info.lastInsertRowid) };
  }

  async update(p: PoolRecord): Promise<void> {
    await this.st.update.run(p.description, JSON.stringify(p.config), p.id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }

  /** How many volumes of a type (rows of every pool, snapshots included) each project has. */
  async volumeCounts(type: string): Promise<Map<string, number>> {
    return new Map((await this.st.countByProject.all(type)).map((r) => [r.project, r.n]));
  }

  async volumes(pool: string): Promise<VolumeRecord[]> {
    return (await this.st.volumes.all(pool)).map(toVolume);
  }

  async volume(pool: string, project: string, type: string, name: string): Promise<VolumeRecord | undefined> {
    const r = await this.st.volume.get(pool, project, type, name);
    return r ? toVolume(r) : undefined;
  }

  /** The volume of that type and name in any pool (an instance's root volume). */
  async volumeOf(project: string, type: string, name: string): Promise<VolumeRecord | undefined> {
    const r = await this.st.volumeOf.get(project, type, name);
    return r ? toVolume(r) : undefined;
  }

  async createVolume(v: Omit<VolumeRecord, 'id'>): Promise<VolumeRecord> {
    const info = await this.st.insertVolume.run({ ...v, config: JSON.stringify(v.config) });
    return { ...v, id: Number(info.lastInsertRowid) };
  }

  /** Renames a volume row; its snapshot rows follow (a trigger, see migration v9). */
  async renameVolume(id: number, name: string): Promise<void> {
    await this.st.renameVolume.run(name, id);
  }

  async updateVolume(v: VolumeRecord): Promise<void> {
    await this.st.updateVolume.run(v.description, JSON.stringify(v.config), v.id);
  }

  /** Deletes a volume row; its snapshot rows go with it (a trigger, see migration v9). */
  async deleteVolume(id: number): Promise<void> {
    await this.st.removeVolume.run(id);
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
