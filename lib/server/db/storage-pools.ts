/** Storage pool rows and the volumes they hold. */
import { jsonMap } from './database';
import type { LocalNode } from './members';
import { splitPoolConfig } from './pool-member-keys';
import { type Sql, Statements } from './sql';

export interface PoolRecord {
  id: number;
  name: string;
  driver: string;
  description: string;
  /** The cluster-wide config with this member's own keys (source, size) over it. */
  config: Record<string, string>;
  status: string;
  /** Whether the pool exists on this member (a member that joined later may not have it yet). */
  onMember: boolean;
}

/** A pool's state on one member. */
export interface PoolMemberRecord {
  node: string;
  nodeId: number;
  state: number;
  config: Record<string, string>;
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
  on_member: number;
}

/** storage_pools_nodes.state, as Incus numbers it (StoragePoolPending, StoragePoolCreated). */
export const POOL_PENDING = 0;
export const POOL_CREATED = 1;

/** Pools with this member's config merged in (the member is the statement's first parameter). */
const SELECT_POOL = `SELECT sp.id, sp.name, sp.driver, sp.description, sp.status,
  json_patch(sp.config, coalesce(spn.config, '{}')) AS config, coalesce(spn.state = ${POOL_CREATED}, 0) AS on_member
  FROM storage_pools sp LEFT JOIN storage_pools_nodes spn ON spn.storage_pool_id = sp.id AND spn.node_id = ?`;

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

  constructor(
    sql: Sql,
    private readonly node: LocalNode = { id: 1 },
  ) {
    const s = new Statements(sql);
    this.st = {
      list: s.prepare<[number], PoolRow>(`${SELECT_POOL} ORDER BY sp.name`),
      one: s.prepare<[number, string], PoolRow>(`${SELECT_POOL} WHERE sp.name = ?`),
      insert: s.prepare('INSERT INTO storage_pools (name, driver, description, config, status) VALUES (?, ?, ?, ?, ?)'),
      update: s.prepare('UPDATE storage_pools SET description = ?, config = ? WHERE id = ?'),
      setMember: s.prepare<[number, number, string]>(
        `INSERT INTO storage_pools_nodes (storage_pool_id, node_id, state, config) VALUES (?, ?, 1, ?)
         ON CONFLICT (storage_pool_id, node_id) DO UPDATE SET config = excluded.config, state = 1`,
      ),
      members: s.prepare<[number], { node: string; node_id: number; state: number; config: string }>(
        `SELECT n.name AS node, spn.node_id, spn.state, spn.config FROM storage_pools_nodes spn
         JOIN nodes n ON n.id = spn.node_id WHERE spn.storage_pool_id = ? ORDER BY n.name`,
      ),
      definePending: s.prepare<[number, number, string]>(
        `INSERT INTO storage_pools_nodes (storage_pool_id, node_id, state, config) VALUES (?, ?, ${POOL_PENDING}, ?)`,
      ),
      setShared: s.prepare<[string, string, string, number]>('UPDATE storage_pools SET config = ?, description = ?, status = ? WHERE id = ?'),
      setStatus: s.prepare<[string, number]>('UPDATE storage_pools SET status = ? WHERE id = ?'),
      removeMembers: s.prepare<[number]>('DELETE FROM storage_pools_nodes WHERE storage_pool_id = ?'),
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
    return (await this.st.list.all(this.node.id)).map(toPool);
  }

  async get(name: string): Promise<PoolRecord | undefined> {
    const r = await this.st.one.get(this.node.id, name);
    return r ? toPool(r) : undefined;
  }

  /** Creates the pool, created on this member with its member keys. Call inside a transaction. */
  async create(p: Omit<PoolRecord, 'id' | 'onMember'>): Promise<PoolRecord> {
    const { shared, member } = splitPoolConfig(p.config);
    const info = await this.st.insert.run(p.name, p.driver, p.description, JSON.stringify(shared), p.status);
    const id = Number(info.lastInsertRowid);
    await this.st.setMember.run(id, this.node.id, JSON.stringify(member));
    return { ...p, id, onMember: true };
  }

  /** Records the pool as created on this member, with this member's keys (a member that joined later). */
  async createOnMember(poolId: number, config: Record<string, string>): Promise<void> {
    await this.st.setMember.run(poolId, this.node.id, JSON.stringify(splitPoolConfig(config).member));
  }

  /** A pool row with no config yet, Pending until created on every member (`--target`). */
  async insertPending(name: string, driver: string): Promise<number> {
    return Number((await this.st.insert.run(name, driver, '', '{}', 'Pending')).lastInsertRowid);
  }

  /** One member's own keys of a pending pool, before the pool is created anywhere. */
  async definePending(poolId: number, nodeId: number, config: Record<string, string>): Promise<void> {
    await this.st.definePending.run(poolId, nodeId, JSON.stringify(config));
  }

  /** The cluster-wide config and description of a pool being created on every member, with its status. */
  async setShared(poolId: number, config: Record<string, string>, description: string, status: string): Promise<void> {
    await this.st.setShared.run(JSON.stringify(config), description, status, poolId);
  }

  async setStatus(poolId: number, status: string): Promise<void> {
    await this.st.setStatus.run(status, poolId);
  }

  /** The members a pool is defined or created on, with their own keys. */
  async members(poolId: number): Promise<PoolMemberRecord[]> {
    return (await this.st.members.all(poolId)).map((r) => ({ node: r.node, nodeId: r.node_id, state: r.state, config: jsonMap(r.config) }));
  }

  /** Replaces the description and the config (the member keys on this member only). Call inside a transaction. */
  async update(p: PoolRecord): Promise<void> {
    const { shared, member } = splitPoolConfig(p.config);
    await this.st.update.run(p.description, JSON.stringify(shared), p.id);
    if (p.onMember) await this.st.setMember.run(p.id, this.node.id, JSON.stringify(member));
  }

  async delete(id: number): Promise<void> {
    await this.st.removeMembers.run(id);
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
  return { id: r.id, name: r.name, driver: r.driver, description: r.description, status: r.status, config: jsonMap(r.config), onMember: r.on_member === 1 };
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
