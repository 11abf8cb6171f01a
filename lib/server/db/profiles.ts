/** Profile rows, and which instances use them. */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import { jsonMap } from './database';
import { type Sql, Statements } from './sql';

export interface ProfileRecord {
  id: number;
  project: string;
  name: string;
  description: string;
  config: ConfigMap;
  devices: DevicesMap;
}

interface Row {
  id: number;
  project: string;
  name: string;
  description: string;
  config: string;
  devices: string;
}

const SELECT = `SELECT pr.id, p.name AS project, pr.name, pr.description, pr.config, pr.devices
  FROM profiles pr JOIN projects p ON p.id = pr.project_id`;

export class ProfileQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      list: s.prepare<[string], Row>(`${SELECT} WHERE p.name = ? ORDER BY pr.name`),
      one: s.prepare<[string, string], Row>(`${SELECT} WHERE p.name = ? AND pr.name = ?`),
      usedBy: s.prepare<[number], { name: string; project: string }>(
        `SELECT i.name, p.name AS project FROM instance_profiles ip
         JOIN instances i ON i.id = ip.instance_id JOIN projects p ON p.id = i.project_id
         WHERE ip.profile_id = ? ORDER BY i.name`,
      ),
      update: s.prepare('UPDATE profiles SET description = ?, config = ?, devices = ? WHERE id = ?'),
      insert: s.prepare(
        `INSERT INTO profiles (project_id, name, description, config, devices)
         VALUES ((SELECT id FROM projects WHERE name = ?), ?, ?, ?, ?)`,
      ),
      rename: s.prepare('UPDATE profiles SET name = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM profiles WHERE id = ?'),
    };
  }

  async list(project: string): Promise<ProfileRecord[]> {
    return (await this.st.list.all(project)).map(toRecord);
  }

  async get(project: string, name: string): Promise<ProfileRecord | undefined> {
    const r = await this.st.one.get(project, name);
    return r ? toRecord(r) : undefined;
  }

  /** Names (with projects) of the instances that use the profile. */
  async usedBy(id: number): Promise<{ name: string; project: string }[]> {
    return this.st.usedBy.all(id);
  }

  async create(rec: Omit<ProfileRecord, 'id'>): Promise<ProfileRecord> {
    const info = await this.st.insert.run(rec.project, rec.name, rec.description, JSON.stringify(rec.config), JSON.stringify(rec.devices));
    return { ...rec, id: Number(info.lastInsertRowid) };
  }

  async rename(id: number, name: string): Promise<void> {
    await this.st.rename.run(name, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }

  async update(rec: ProfileRecord): Promise<void> {
    await this.st.update.run(rec.description, JSON.stringify(rec.config), JSON.stringify(rec.devices), rec.id);
  }
}

function toRecord(r: Row): ProfileRecord {
  return {
    id: r.id,
    project: r.project,
    name: r.name,
    description: r.description,
    config: jsonMap(r.config),
    devices: jsonMap<DevicesMap>(r.devices),
  };
}
