/** Managed network rows. */
import { jsonMap } from './database';
import { type Sql, Statements } from './sql';

export interface NetworkRecord {
  id: number;
  project: string;
  name: string;
  type: string;
  description: string;
  config: Record<string, string>;
  /** `Pending` while being set up, `Created` once up, `Errored` when the last start failed. */
  status: string;
}

interface Row {
  id: number;
  project: string;
  name: string;
  type: string;
  description: string;
  config: string;
  status: string;
}

const SELECT = `SELECT n.id, p.name AS project, n.name, n.type, n.description, n.config, n.status
  FROM networks n JOIN projects p ON p.id = n.project_id`;

export class NetworkQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      all: s.prepare<[], Row>(`${SELECT} ORDER BY p.name, n.name`),
      list: s.prepare<[string], Row>(`${SELECT} WHERE p.name = ? ORDER BY n.name`),
      one: s.prepare<[string, string], Row>(`${SELECT} WHERE p.name = ? AND n.name = ?`),
      insert: s.prepare(
        `INSERT INTO networks (project_id, name, type, description, config, status)
         VALUES ((SELECT id FROM projects WHERE name = ?), ?, ?, ?, ?, ?)`,
      ),
      update: s.prepare('UPDATE networks SET description = ?, config = ? WHERE id = ?'),
      status: s.prepare('UPDATE networks SET status = ? WHERE id = ?'),
      rename: s.prepare('UPDATE networks SET name = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM networks WHERE id = ?'),
    };
  }

  /** Every network of every project. */
  async all(): Promise<NetworkRecord[]> {
    return (await this.st.all.all()).map(toRecord);
  }

  async list(project: string): Promise<NetworkRecord[]> {
    return (await this.st.list.all(project)).map(toRecord);
  }

  async get(project: string, name: string): Promise<NetworkRecord | undefined> {
    const r = await this.st.one.get(project, name);
    return r ? toRecord(r) : undefined;
  }

  async create(rec: Omit<NetworkRecord, 'id'>): Promise<NetworkRecord> {
    const info = await this.st.insert.run(rec.project, rec.name, rec.type, rec.description, JSON.stringify(rec.config), rec.status);
    return { ...rec, id: Number(info.lastInsertRowid) };
  }

  async update(rec: Pick<NetworkRecord, 'id' | 'description' | 'config'>): Promise<void> {
    await this.st.update.run(rec.description, JSON.stringify(rec.config), rec.id);
  }

  async setStatus(id: number, status: string): Promise<void> {
    await this.st.status.run(status, id);
  }

  async rename(id: number, name: string): Promise<void> {
    await this.st.rename.run(name, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }
}

function toRecord(r: Row): NetworkRecord {
  return { ...r, config: jsonMap(r.config) };
}
