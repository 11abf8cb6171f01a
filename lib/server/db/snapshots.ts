/** Instance snapshot rows: what the instance looked like (config, devices, profiles) when taken. */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import { jsonMap } from './database';
import { type Sql, Statements } from './sql';

/** Go's zero time, as Incus writes a snapshot that never expires. */
export const NO_EXPIRY = '0001-01-01T00:00:00Z';

export interface SnapshotRecord {
  id: number;
  instanceId: number;
  name: string;
  createdAt: string;
  /** NO_EXPIRY when the snapshot does not expire. */
  expiresAt: string;
  stateful: boolean;
  description: string;
  architecture: string;
  ephemeral: boolean;
  config: ConfigMap;
  devices: DevicesMap;
  profiles: string[];
}

export type NewSnapshot = Omit<SnapshotRecord, 'id'>;

/** An expired snapshot with the instance it belongs to, for the pruning task. */
export interface ExpiredSnapshot {
  project: string;
  instance: string;
  snapshot: string;
}

interface Row {
  id: number;
  instance_id: number;
  name: string;
  created_at: string;
  expires_at: string;
  stateful: number;
  description: string;
  architecture: string;
  ephemeral: number;
  config: string;
  devices: string;
  profiles: string;
}

const COLUMNS = `s.id, s.instance_id, s.name, s.created_at, s.expires_at, s.stateful, s.description,
  s.architecture, s.ephemeral, s.config, s.devices, s.profiles`;

export class SnapshotQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      ofInstance: s.prepare<[number], Row>(`SELECT ${COLUMNS} FROM instance_snapshots s WHERE s.instance_id = ? ORDER BY s.created_at, s.id`),
      all: s.prepare<[], Row>(`SELECT ${COLUMNS} FROM instance_snapshots s ORDER BY s.instance_id, s.created_at, s.id`),
      one: s.prepare<[number, string], Row>(`SELECT ${COLUMNS} FROM instance_snapshots s WHERE s.instance_id = ? AND s.name = ?`),
      countAll: s.prepare<[], { instance_id: number; n: number }>(
        'SELECT instance_id, COUNT(*) AS n FROM instance_snapshots GROUP BY instance_id',
      ),
      names: s.prepare<[number], { name: string }>('SELECT name FROM instance_snapshots WHERE instance_id = ?'),
      insert: s.named(
        `INSERT INTO instance_snapshots (instance_id, name, created_at, expires_at, stateful, description,
           architecture, ephemeral, config, devices, profiles)
         VALUES (@instanceId, @name, @createdAt, @expiresAt, @stateful, @description, @architecture, @ephemeral,
           @config, @devices, @profiles)`,
      ),
      // The root volume's snapshot row (`<instance>/<snapshot>`, as Incus keeps one per
      // instance snapshot): the volume's config when taken, unless one is given.
      insertVolume: s.named(
        `INSERT OR REPLACE INTO storage_volumes (pool_id, project_id, name, type, content_type, description, config, created_at)
         SELECT v.pool_id, v.project_id, v.name || '/' || @name, v.type, v.content_type, COALESCE(@description, ''),
           COALESCE(@volumeConfig, v.config), @createdAt
         FROM instances i JOIN storage_volumes v ON v.project_id = i.project_id AND v.type = i.type AND v.name = i.name
         WHERE i.id = @instanceId`,
      ),
      volumeId: s.prepare<[number], { id: number; instance: string }>(
        `SELECT v.id, i.name AS instance FROM instance_snapshots s JOIN instances i ON i.id = s.instance_id
         JOIN storage_volumes v ON v.project_id = i.project_id AND v.type = i.type AND v.name = i.name || '/' || s.name
         WHERE s.id = ?`,
      ),
      renameVolume: s.prepare('UPDATE storage_volumes SET name = ? WHERE id = ?'),
      removeVolume: s.prepare('DELETE FROM storage_volumes WHERE id = ?'),
      rename: s.prepare('UPDATE instance_snapshots SET name = ? WHERE id = ?'),
      setExpiry: s.prepare('UPDATE instance_snapshots SET expires_at = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM instance_snapshots WHERE id = ?'),
      expired: s.prepare<[string, string], { project: string; instance: string; snapshot: string }>(
        `SELECT p.name AS project, i.name AS instance, s.name AS snapshot
         FROM instance_snapshots s JOIN instances i ON i.id = s.instance_id JOIN projects p ON p.id = i.project_id
         WHERE s.expires_at != ? AND julianday(s.expires_at) <= julianday(?) ORDER BY julianday(s.expires_at)`,
      ),
    };
  }

  /** An instance's snapshots, oldest first. */
  async list(instanceId: number): Promise<SnapshotRecord[]> {
    return (await this.st.ofInstance.all(instanceId)).map(toRecord);
  }

  /** Every snapshot, by instance id, in list() order: one query for a whole listing. */
  async byInstance(): Promise<Map<number, SnapshotRecord[]>> {
    const out = new Map<number, SnapshotRecord[]>();
    for (const r of await this.st.all.all()) {
      const rec = toRecord(r);
      const list = out.get(rec.instanceId);
      if (list) list.push(rec);
      else out.set(rec.instanceId, [rec]);
    }
    return out;
  }

  async get(instanceId: number, name: string): Promise<SnapshotRecord | undefined> {
    const r = await this.st.one.get(instanceId, name);
    return r ? toRecord(r) : undefined;
  }

  /** Snapshot count per instance id, in one query (for list views). */
  async counts(): Promise<Map<number, number>> {
    return new Map((await this.st.countAll.all()).map((r) => [r.instance_id, r.n]));
  }

  async names(instanceId: number): Promise<string[]> {
    return (await this.st.names.all(instanceId)).map((r) => r.name);
  }

  /**
   * Inserts a snapshot row and its root volume's snapshot row (with `volume`'s
   * description and config, else the volume's config now); throws on a
   * duplicate name (UNIQUE).
   */
  async create(rec: NewSnapshot, volume?: { description: string; config: Record<string, string> }): Promise<SnapshotRecord> {
    const info = await this.st.insert.run({
      ...rec,
      stateful: rec.stateful ? 1 : 0,
      ephemeral: rec.ephemeral ? 1 : 0,
      config: JSON.stringify(rec.config),
      devices: JSON.stringify(rec.devices),
      profiles: JSON.stringify(rec.profiles),
    });
    await this.st.insertVolume.run({
      instanceId: rec.instanceId,
      name: rec.name,
      createdAt: rec.createdAt,
      description: volume?.description ?? null,
      volumeConfig: volume ? JSON.stringify(volume.config) : null,
    });
    return { ...rec, id: Number(info.lastInsertRowid) };
  }

  async rename(id: number, name: string): Promise<void> {
    const v = await this.st.volumeId.get(id);
    if (v) await this.st.renameVolume.run(`${v.instance}/${name}`, v.id);
    await this.st.rename.run(name, id);
  }

  async setExpiry(id: number, expiresAt: string): Promise<void> {
    await this.st.setExpiry.run(expiresAt, id);
  }

  async delete(id: number): Promise<void> {
    const v = await this.st.volumeId.get(id);
    if (v) await this.st.removeVolume.run(v.id);
    await this.st.remove.run(id);
  }

  /** Snapshots whose expiry is at or before `now` (compared as times: an expiry keeps the offset it was set with). */
  async expired(now: string): Promise<ExpiredSnapshot[]> {
    return this.st.expired.all(NO_EXPIRY, now);
  }
}

function toRecord(r: Row): SnapshotRecord {
  return {
    id: r.id,
    instanceId: r.instance_id,
    name: r.name,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    stateful: r.stateful === 1,
    description: r.description,
    architecture: r.architecture,
    ephemeral: r.ephemeral === 1,
    config: jsonMap(r.config),
    devices: jsonMap<DevicesMap>(r.devices),
    profiles: jsonMap<string[]>(r.profiles),
  };
}
