/** Profile rows, and which instances use them. */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import { type Database, jsonMap } from './database';

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

  constructor(db: Database) {
    const s = db.sql;
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

  list(project: string): ProfileRecord[] {
    return this.st.list.all(project).map(toRecord);
  }

  get(project: string, name: string): ProfileRecord | undefined {
    const r = this.st.one.get(project, name);
    return r ? toRecord(r) : undefined;
  }

  /** Names (with projects) of the instances that use the profile. */
  usedBy(id: number): { name: string; project: string }[] {
    return this.st.usedBy.all(id);
  }

  create(rec: Omit<ProfileRecord, 'id'>): ProfileRecord {
    const info = this.st.insert.run(rec.project, rec.name, rec.description, JSON.stringify(rec.config), JSON.stringify(rec.devices));
    return { ...rec, id: Number(info.lastInsertRowid) };
  }

  rename(id: number, name: string): void {
    this.st.rename.run(name, id);
  }

  delete(id: number): void {
    this.st.remove.run(id);
  }

  update(rec: ProfileRecord): void {
    this.st.update.run(rec.description, JSON.stringify(rec.config), JSON.stringify(rec.devices), rec.id);
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
