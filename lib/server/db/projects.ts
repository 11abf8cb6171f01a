/** Project rows: name, description and config (a JSON map). */
import type { ConfigMap } from '../../api/instance';
import { type Database, jsonMap } from './database';

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

  constructor(db: Database) {
    const s = db.sql;
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
  id(name: string): number | undefined {
    return this.st.byName.get(name)?.id;
  }

  get(name: string): ProjectRecord | undefined {
    const r = this.st.byName.get(name);
    return r ? toRecord(r) : undefined;
  }

  list(): ProjectRecord[] {
    return this.st.list.all().map(toRecord);
  }

  /** Inserts the project and returns its id. */
  create(p: Omit<ProjectRecord, 'id'>): number {
    return Number(this.st.insert.run(p.name, p.description, JSON.stringify(p.config)).lastInsertRowid);
  }

  update(id: number, description: string, config: ConfigMap): void {
    this.st.update.run(description, JSON.stringify(config), id);
  }

  rename(id: number, name: string): void {
    this.st.rename.run(name, id);
  }

  delete(id: number): void {
    this.st.remove.run(id);
  }
}
