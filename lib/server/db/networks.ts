/** Managed network rows. */
import { jsonMap } from './database';
import type { LocalNode } from './members';
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
  /** A cluster's network still being defined member by member (`--target`): nothing to bring up yet. */
  clusterPending?: boolean;
}

/** A network's state on one cluster member (networks_nodes). */
export interface NetworkMemberRecord {
  node: string;
  nodeId: number;
  state: number;
  config: Record<string, string>;
}

/** networks_nodes.state, as Incus numbers it (networkPending, networkCreated). */
export const NETWORK_PENDING = 0;
export const NETWORK_CREATED = 1;

interface Row {
  id: number;
  project: string;
  name: string;
  type: string;
  description: string;
  config: string;
  status: string;
  cluster_pending: number;
}

/** Networks with this member's own keys merged in (the member is the statement's first parameter). */
const SELECT = `SELECT n.id, p.name AS project, n.name, n.type, n.description, n.status,
  json_patch(n.config, coalesce(nn.config, '{}')) AS config,
  n.status = 'Pending' AND EXISTS (SELECT 1 FROM networks_nodes x WHERE x.network_id = n.id) AS cluster_pending
  FROM networks n JOIN projects p ON p.id = n.project_id
  LEFT JOIN networks_nodes nn ON nn.network_id = n.id AND nn.node_id = ?`;

export class NetworkQueries {
  private readonly st;

  constructor(
    sql: Sql,
    private readonly node: LocalNode = { id: 1 },
  ) {
    const s = new Statements(sql);
    this.st = {
      all: s.prepare<[number], Row>(`${SELECT} ORDER BY p.name, n.name`),
      list: s.prepare<[number, string], Row>(`${SELECT} WHERE p.name = ? ORDER BY n.name`),
      one: s.prepare<[number, string, string], Row>(`${SELECT} WHERE p.name = ? AND n.name = ?`),
      insert: s.prepare(
        `INSERT INTO networks (project_id, name, type, description, config, status)
         VALUES ((SELECT id FROM projects WHERE name = ?), ?, ?, ?, ?, ?)`,
      ),
      update: s.prepare('UPDATE networks SET description = ?, config = ? WHERE id = ?'),
      status: s.prepare('UPDATE networks SET status = ? WHERE id = ?'),
      rename: s.prepare('UPDATE networks SET name = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM networks WHERE id = ?'),
      shared: s.prepare<[string, string, string, number]>('UPDATE networks SET config = ?, description = ?, status = ? WHERE id = ?'),
      members: s.prepare<[number], { node: string; node_id: number; state: number; config: string }>(
        `SELECT m.name AS node, nn.node_id, nn.state, nn.config FROM networks_nodes nn
         JOIN nodes m ON m.id = nn.node_id WHERE nn.network_id = ? ORDER BY m.name`,
      ),
      definePending: s.prepare<[number, number, string]>(
        `INSERT INTO networks_nodes (network_id, node_id, state, config) VALUES (?, ?, ${NETWORK_PENDING}, ?)`,
      ),
      setMemberState: s.prepare<[number, number, number]>('UPDATE networks_nodes SET state = ? WHERE network_id = ? AND node_id = ?'),
      removeMembers: s.prepare<[number]>('DELETE FROM networks_nodes WHERE network_id = ?'),
    };
  }

  /** Every network of every project. */
  async all(): Promise<NetworkRecord[]> {
    return (await this.st.all.all(this.node.id)).map(toRecord);
  }

  async list(project: string): Promise<NetworkRecord[]> {
    return (await this.st.list.all(this.node.id, project)).map(toRecord);
  }

  async get(project: string, name: string): Promise<NetworkRecord | undefined> {
    const r = await this.st.one.get(this.node.id, project, name);
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
    await this.st.removeMembers.run(id);
    await this.st.remove.run(id);
  }

  /** The members a cluster's network is defined or created on, with their own keys. */
  async members(id: number): Promise<NetworkMemberRecord[]> {
    return (await this.st.members.all(id)).map((r) => ({ node: r.node, nodeId: r.node_id, state: r.state, config: jsonMap(r.config) }));
  }

  /** One member's own keys of a network not created yet (`--target`). */
  async definePending(id: number, nodeId: number, config: Record<string, string>): Promise<void> {
    await this.st.definePending.run(id, nodeId, JSON.stringify(config));
  }

  /** This member's state of a cluster's network (created here once its bridge is up). */
  async setMemberState(id: number, state: number): Promise<void> {
    await this.st.setMemberState.run(state, id, this.node.id);
  }

  /** The cluster-wide config and description of a network being created on every member, with its status. */
  async setShared(id: number, config: Record<string, string>, description: string, status: string): Promise<void> {
    await this.st.shared.run(JSON.stringify(config), description, status, id);
  }
}

function toRecord(r: Row): NetworkRecord {
  const { cluster_pending: pending, ...rest } = r;
  return { ...rest, config: jsonMap(r.config), ...(pending === 1 ? { clusterPending: true } : {}) };
}
