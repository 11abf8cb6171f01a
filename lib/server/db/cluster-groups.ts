/**
 * Cluster groups (Incus's cluster_groups with nodes_cluster_groups and
 * cluster_groups_config): named sets of members, "default" holding each.
 */
import { replaceKeyValues } from './key-values';
import { type Sql, Statements } from './sql';

export interface ClusterGroupRow {
  id: number;
  name: string;
  description: string;
}

/** The group every member belongs to (Incus's). */
export const DEFAULT_GROUP = 'default';

export class ClusterGroupQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      list: s.prepare<[], ClusterGroupRow>('SELECT id, name, description FROM cluster_groups ORDER BY name'),
      byName: s.prepare<[string], ClusterGroupRow>('SELECT id, name, description FROM cluster_groups WHERE name = ?'),
      create: s.prepare<[string, string]>('INSERT INTO cluster_groups (name, description) VALUES (?, ?)'),
      rename: s.prepare<[string, string]>('UPDATE cluster_groups SET name = ? WHERE name = ?'),
      setDescription: s.prepare<[string, number]>('UPDATE cluster_groups SET description = ? WHERE id = ?'),
      remove: s.prepare<[number]>('DELETE FROM cluster_groups WHERE id = ?'),
      config: s.prepare<[number], { key: string; value: string }>('SELECT key, value FROM cluster_groups_config WHERE cluster_group_id = ? ORDER BY key'),
      clearConfig: s.prepare<[number]>('DELETE FROM cluster_groups_config WHERE cluster_group_id = ?'),
      addConfig: s.prepare<[number, string, string]>('INSERT INTO cluster_groups_config (cluster_group_id, key, value) VALUES (?, ?, ?)'),
      members: s.prepare<[number], { name: string }>(
        'SELECT nodes.name FROM nodes_cluster_groups JOIN nodes ON nodes.id = nodes_cluster_groups.node_id WHERE group_id = ? ORDER BY nodes.name',
      ),
      groupsOf: s.prepare<[number], { name: string }>(
        'SELECT cluster_groups.name FROM nodes_cluster_groups JOIN cluster_groups ON cluster_groups.id = nodes_cluster_groups.group_id WHERE node_id = ? ORDER BY cluster_groups.name',
      ),
      addMember: s.prepare<[number, number]>('INSERT OR IGNORE INTO nodes_cluster_groups (node_id, group_id) VALUES (?, ?)'),
      removeMember: s.prepare<[number, number]>('DELETE FROM nodes_cluster_groups WHERE node_id = ? AND group_id = ?'),
    };
  }

  async list(): Promise<ClusterGroupRow[]> {
    return this.st.list.all();
  }

  async get(name: string): Promise<ClusterGroupRow | undefined> {
    return this.st.byName.get(name);
  }

  /** Creates a group; its id. */
  async create(name: string, description: string): Promise<number> {
    return Number((await this.st.create.run(name, description)).lastInsertRowid);
  }

  async rename(oldName: string, newName: string): Promise<void> {
    await this.st.rename.run(newName, oldName);
  }

  async remove(id: number): Promise<void> {
    await this.st.remove.run(id);
  }

  async config(id: number): Promise<Record<string, string>> {
    return Object.fromEntries((await this.st.config.all(id)).map((r) => [r.key, r.value]));
  }

  /** Replaces a group's description and config. */
  async update(id: number, description: string, config: Record<string, string>): Promise<void> {
    await this.st.setDescription.run(description, id);
    await replaceKeyValues(this.st.clearConfig, this.st.addConfig, id, config);
  }

  /** The names of the group's members. */
  async members(id: number): Promise<string[]> {
    return (await this.st.members.all(id)).map((r) => r.name);
  }

  /** The names of the groups a member (by node id) belongs to. */
  async groupsOf(nodeId: number): Promise<string[]> {
    return (await this.st.groupsOf.all(nodeId)).map((r) => r.name);
  }

  async addMember(nodeId: number, groupId: number): Promise<void> {
    await this.st.addMember.run(nodeId, groupId);
  }

  async removeMember(nodeId: number, groupId: number): Promise<void> {
    await this.st.removeMember.run(nodeId, groupId);
  }
}
