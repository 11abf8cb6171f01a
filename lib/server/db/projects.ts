/** Project rows: name, description and config (a JSON map). */
import type { ConfigMap } from '../../api/instance';
import { jsonMap } from './database';
import { type Sql, Statements } from './sql';

export interface ProjectRecord {
  id: number;
  name: string;
  description: string;
  config: ConfigMap;
}

interface Row {
  id: number;
  name: string;
  description: string;
  config: string;
}

const toRecord = (r: Row): ProjectRecord => ({ id: r.id, name: r.name, description: r.description, config: jsonMap(r.config) });

export class ProjectQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      byName: s.prepare<[string], Row>('SELECT id, name, description, config FROM projects WHERE name = ?'),
      list: s.prepare<[], Row>('SELECT id, name, description, config FROM projects ORDER BY name'),
      insert: s.prepare<[string, string, string]>('INSERT INTO projects (name, description, config) VALUES (?, ?, ?)'),
      update: s.prepare<[string, string, number]>('UPDATE projects SET description = ?, config = ? WHERE id = ?'),
      rename: s.prepare<[string, number]>('UPDATE projects SET name = ? WHERE id = ?'),
      remove: s.prepare<[number]>('DELETE FROM projects WHERE id = ?'),
    };
  }

  /** The project's id, or undefined when there is no such project. */
  async id(name: string): Promise<number | undefined> {
    return (await this.st.byName.get(name))?.id;
  }

  async get(name: string): Promise<ProjectRecord | undefined> {
    const r = await this.st.byName.get(name);
    return r ? toRecord(r) : undefined;
  }

  async list(): Promise<ProjectRecord[]> {
    return (await this.st.list.all()).map(toRecord);
  }

  /** Inserts the project and returns its id. */
  async create(p: Omit<ProjectRecord, 'id'>): Promise<number> {
    return Number((await this.st.insert.run(p.name, p.description, JSON.stringify(p.config))).lastInsertRowid);
  }

  async update(id: number, description: string, config: ConfigMap): Promise<void> {
    await this.st.update.run(description, JSON.stringify(config), id);
  }

  async rename(id: number, name: string): Promise<void> {
    await this.st.rename.run(name, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }
}
