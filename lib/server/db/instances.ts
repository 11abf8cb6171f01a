/** Instance rows: local config/devices as JSON columns, profiles in apply order. */
import type { ConfigMap, DevicesMap, InstanceType } from '../../api/instance';
import { jsonMap } from './database';
import type { LocalNode } from './members';
import { type Sql, Statements } from './sql';

export interface InstanceRecord {
  id: number;
  project: string;
  name: string;
  type: InstanceType;
  architecture: string;
  ephemeral: boolean;
  stateful: boolean;
  description: string;
  createdAt: string;
  lastUsedAt: string;
  config: ConfigMap;
  devices: DevicesMap;
  profiles: string[];
  /** The cluster member the instance lives on ("none" on a standalone host). */
  location: string;
  /** Whether it lives on this member (its operations are forwarded otherwise). */
  local: boolean;
}

/** A new instance: always created on this member (creations for another member are forwarded to it). */
export type NewInstance = Omit<InstanceRecord, 'id' | 'location' | 'local'>;

interface Row {
  id: number;
  project: string;
  name: string;
  type: string;
  architecture: string;
  ephemeral: number;
  stateful: number;
  description: string;
  created_at: string;
  last_used_at: string;
  config: string;
  devices: string;
  node_id: number;
  location: string;
}

const SELECT = `SELECT i.id, p.name AS project, i.name, i.type, i.architecture, i.ephemeral, i.stateful,
  i.description, i.created_at, i.last_used_at, i.config, i.devices, i.node_id, coalesce(n.name, '') AS location
  FROM instances i JOIN projects p ON p.id = i.project_id LEFT JOIN nodes n ON n.id = i.node_id`;

export class InstanceQueries {
  private readonly st;

  constructor(
    sql: Sql,
    private readonly node: LocalNode = { id: 1 },
  ) {
    const s = new Statements(sql);
    this.st = {
      all: s.prepare<[], Row>(`${SELECT} ORDER BY i.name`),
      countByNode: s.prepare<[], { node_id: number; n: number }>('SELECT node_id, COUNT(*) AS n FROM instances GROUP BY node_id'),
      setNode: s.prepare<[number, number]>('UPDATE instances SET node_id = ? WHERE id = ?'),
      inProject: s.prepare<[string], Row>(`${SELECT} WHERE p.name = ? ORDER BY i.name`),
      one: s.prepare<[string, string], Row>(`${SELECT} WHERE p.name = ? AND i.name = ?`),
      countByType: s.prepare<[string], { type: string; n: number }>(
        `SELECT i.type, COUNT(*) AS n FROM instances i JOIN projects p ON p.id = i.project_id WHERE p.name = ? GROUP BY i.type`,
      ),
      profilesAll: s.prepare<[], { instance_id: number; name: string }>(
        `SELECT ip.instance_id, pr.name FROM instance_profiles ip JOIN profiles pr ON pr.id = ip.profile_id
         ORDER BY ip.instance_id, ip.apply_order`,
      ),
      profilesOf: s.prepare<[number], { name: string }>(
        `SELECT pr.name FROM instance_profiles ip JOIN profiles pr ON pr.id = ip.profile_id
         WHERE ip.instance_id = ? ORDER BY ip.apply_order`,
      ),
      insert: s.named(
        `INSERT INTO instances (project_id, name, type, architecture, ephemeral, stateful, description,
           created_at, last_used_at, config, devices, node_id)
         VALUES ((SELECT id FROM projects WHERE name = @project), @name, @type, @architecture, @ephemeral,
           @stateful, @description, @createdAt, @lastUsedAt, @config, @devices, @nodeId)`,
      ),
      // The profile in the instance project's profile project: itself with features.profiles, else default.
      profileId: s.prepare<[string, string], { id: number }>(
        `SELECT pr.id FROM profiles pr JOIN projects p ON p.id = pr.project_id
         WHERE p.name = (
           SELECT CASE WHEN q.name = 'default'
             OR lower(coalesce(json_extract(q.config, '$."features.profiles"'), '')) IN ('true', '1', 'yes', 'on')
             THEN q.name ELSE 'default' END
           FROM projects q WHERE q.name = ?) AND pr.name = ?`,
      ),
      clearProfiles: s.prepare('DELETE FROM instance_profiles WHERE instance_id = ?'),
      addProfile: s.prepare('INSERT INTO instance_profiles (instance_id, profile_id, apply_order) VALUES (?, ?, ?)'),
      update: s.named(
        `UPDATE instances SET architecture = @architecture, ephemeral = @ephemeral, stateful = @stateful,
           description = @description, config = @config, devices = @devices WHERE id = @id`,
      ),
      setConfig: s.prepare('UPDATE instances SET config = ? WHERE id = ?'),
      rename: s.prepare('UPDATE instances SET name = ? WHERE id = ?'),
      lastUsed: s.prepare('UPDATE instances SET last_used_at = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM instances WHERE id = ?'),
    };
  }

  /** Every instance of a project (or of all projects with null), with profiles. */
  async list(project: string | null): Promise<InstanceRecord[]> {
    const rows = project === null ? await this.st.all.all() : await this.st.inProject.all(project);
    const profiles = new Map<number, string[]>();
    for (const p of await this.st.profilesAll.all()) {
      const l = profiles.get(p.instance_id);
      if (l) l.push(p.name);
      else profiles.set(p.instance_id, [p.name]);
    }
    return rows.map((r) => toRecord(r, profiles.get(r.id) ?? [], this.node));
  }

  /** How many instances each member holds (by node id; members with none left out). */
  async countByNode(): Promise<Map<number, number>> {
    return new Map((await this.st.countByNode.all()).map((r) => [r.node_id, r.n]));
  }

  /** Records that an instance now lives on another member (evacuation, a move between members). */
  async setNode(id: number, nodeId: number): Promise<void> {
    await this.st.setNode.run(nodeId, id);
  }

  /** The instances of a project (or all projects) that live on this member: what its runtime tasks act on. */
  async listLocal(project: string | null): Promise<InstanceRecord[]> {
    return (await this.list(project)).filter((r) => r.local);
  }

  /** How many instances of each type a project has (types it has none of left out). */
  async countByType(project: string): Promise<Record<string, number>> {
    return Object.fromEntries((await this.st.countByType.all(project)).map((r) => [r.type, r.n]));
  }

  async get(project: string, name: string): Promise<InstanceRecord | undefined> {
    const r = await this.st.one.get(project, name);
    if (!r) return undefined;
    return toRecord(
      r,
      (await this.st.profilesOf.all(r.id)).map((p) => p.name),
      this.node,
    );
  }

  /** Inserts the instance and its profile links; throws when a profile is missing. Call inside a transaction. */
  async create(rec: NewInstance): Promise<InstanceRecord> {
    const info = await this.st.insert.run({
      ...rec,
      nodeId: this.node.id,
      ephemeral: rec.ephemeral ? 1 : 0,
      stateful: rec.stateful ? 1 : 0,
      config: JSON.stringify(rec.config),
      devices: JSON.stringify(rec.devices),
    });
    const id = Number(info.lastInsertRowid);
    await this.setProfiles(id, rec.project, rec.profiles);
    const location = (await this.st.one.get(rec.project, rec.name))?.location ?? '';
    return { ...rec, id, location, local: true };
  }

  /** Replaces the writable fields and the profile list. Call inside a transaction. */
  async update(rec: InstanceRecord): Promise<void> {
    await this.st.update.run({
      id: rec.id,
      architecture: rec.architecture,
      ephemeral: rec.ephemeral ? 1 : 0,
      stateful: rec.stateful ? 1 : 0,
      description: rec.description,
      config: JSON.stringify(rec.config),
      devices: JSON.stringify(rec.devices),
    });
    await this.setProfiles(rec.id, rec.project, rec.profiles);
  }

  /** Writes only the config map (volatile keys maintained by the daemon). */
  async setConfig(id: number, config: ConfigMap): Promise<void> {
    await this.st.setConfig.run(JSON.stringify(config), id);
  }

  async rename(id: number, name: string): Promise<void> {
    await this.st.rename.run(name, id);
  }

  async touch(id: number, when: string): Promise<void> {
    await this.st.lastUsed.run(when, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }

  private async setProfiles(id: number, project: string, names: string[]): Promise<void> {
    await this.st.clearProfiles.run(id);
    for (const [order, name] of names.entries()) {
      const p = await this.st.profileId.get(project, name);
      if (!p) throw new ProfileMissingError(name);
      await this.st.addProfile.run(id, p.id, order);
    }
  }
}

/** Thrown when an instance names a profile that does not exist. */
export class ProfileMissingError extends Error {
  constructor(readonly profile: string) {
    super(`Profile "${profile}" not found`);
  }
}

function toRecord(r: Row, profiles: string[], node: LocalNode): InstanceRecord {
  return {
    id: r.id,
    project: r.project,
    name: r.name,
    type: r.type as InstanceType,
    architecture: r.architecture,
    ephemeral: r.ephemeral === 1,
    stateful: r.stateful === 1,
    description: r.description,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    config: jsonMap(r.config),
    devices: jsonMap<DevicesMap>(r.devices),
    profiles,
    location: r.location,
    local: r.node_id === node.id,
  };
}
