/**
 * Cluster members (Incus's `nodes` table). A standalone host keeps the one
 * row Incus keeps, "none" at 0.0.0.0; bootstrapping renames it.
 */
import { replaceKeyValues } from './key-values';
import { type Sql, Statements } from './sql';

export interface MemberRow {
  id: number;
  name: string;
  description: string;
  address: string;
  schema: number;
  api_extensions: number;
  heartbeat: string;
  state: number;
  arch: number;
}

/** Which nodes row this daemon is; set once it knows (a joiner learns its id when accepted). */
export interface LocalNode {
  id: number;
}

/** The name of a standalone host's only row (Incus's). */
export const STANDALONE_NAME = 'none';

const COLS = "id, name, coalesce(description, '') AS description, address, schema, api_extensions, heartbeat, state, arch";

export class MemberQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      list: s.prepare<[], MemberRow>(`SELECT ${COLS} FROM nodes ORDER BY id`),
      byName: s.prepare<[string], MemberRow>(`SELECT ${COLS} FROM nodes WHERE name = ?`),
      create: s.prepare<[string, string, number, number, number]>('INSERT INTO nodes (name, address, schema, api_extensions, arch, description) VALUES (?, ?, ?, ?, ?, \'\')'),
      joinDefaultGroup: s.prepare<[number]>("INSERT OR IGNORE INTO nodes_cluster_groups (node_id, group_id) SELECT ?, id FROM cluster_groups WHERE name = 'default'"),
      instancesOn: s.prepare<[number], { name: string }>('SELECT name FROM instances WHERE node_id = ? ORDER BY name'),
      imagesOnlyOn: s.prepare<[number], { fingerprint: string }>(
        'SELECT fingerprint FROM images WHERE id IN (SELECT image_id FROM images_nodes GROUP BY image_id HAVING count(*) = 1 AND max(node_id) = ?) ORDER BY fingerprint',
      ),
      clearInstanceVolumes: s.prepare<[number]>(
        "DELETE FROM storage_volumes WHERE type IN ('container', 'virtual-machine') AND EXISTS (SELECT 1 FROM instances i WHERE i.node_id = ? AND i.project_id = storage_volumes.project_id AND (i.name = storage_volumes.name OR storage_volumes.name LIKE i.name || '/%'))",
      ),
      clearInstances: s.prepare<[number]>('DELETE FROM instances WHERE node_id = ?'),
      removeImagesOnlyOn: s.prepare<[number]>('DELETE FROM images WHERE id IN (SELECT image_id FROM images_nodes GROUP BY image_id HAVING count(*) = 1 AND max(node_id) = ?)'),
      remove: s.prepare<[number]>('DELETE FROM nodes WHERE id = ?'),
      bootstrap: s.prepare<[string, string]>('UPDATE nodes SET name = ?, address = ? WHERE id = 1'),
      rename: s.prepare<[string, string]>('UPDATE nodes SET name = ? WHERE name = ?'),
      setDescription: s.prepare<[string, number]>('UPDATE nodes SET description = ? WHERE id = ?'),
      config: s.prepare<[number], { key: string; value: string }>('SELECT key, value FROM nodes_config WHERE node_id = ? ORDER BY key'),
      clearConfig: s.prepare<[number]>('DELETE FROM nodes_config WHERE node_id = ?'),
      addConfig: s.prepare<[number, string, string]>('INSERT INTO nodes_config (node_id, key, value) VALUES (?, ?, ?)'),
      setState: s.prepare<[number, string]>('UPDATE nodes SET state = ? WHERE name = ?'),
      heartbeat: s.prepare<[string]>('UPDATE nodes SET heartbeat = CURRENT_TIMESTAMP WHERE address = ?'),
      version: s.prepare<[number, number, string]>('UPDATE nodes SET schema = ?, api_extensions = ?, heartbeat = CURRENT_TIMESTAMP WHERE name = ?'),
    };
  }

  async list(): Promise<MemberRow[]> {
    return this.st.list.all();
  }

  async get(name: string): Promise<MemberRow | undefined> {
    return this.st.byName.get(name);
  }

  /** Makes the standalone row this member: its name and cluster address (Incus's BootstrapNode). */
  async bootstrap(name: string, address: string): Promise<void> {
    const r = await this.st.bootstrap.run(name, address);
    if (r.changes !== 1) throw new Error('Failed updating cluster member: no member with id 1');
  }

  /** Adds a joining member (Incus's CreateNodeWithArch); its id, which is also its raft id. */
  async create(name: string, address: string, schema: number, apiExtensions: number, arch: number): Promise<number> {
    const r = await this.st.create.run(name, address, schema, apiExtensions, arch);
    const id = Number(r.lastInsertRowid);
    // Every member is in the "default" cluster group (Incus's Accept adds it).
    await this.st.joinDefaultGroup.run(id);
    return id;
  }

  /** Why a member cannot leave the cluster gracefully ('' when it can): Incus's NodeIsEmpty, less custom volumes. */
  async emptiness(id: number): Promise<string> {
    const instances = (await this.st.instancesOn.all(id)).map((r) => r.name);
    if (instances.length > 0) return `Node still has the following instances: ${instances.join(', ')}`;
    const images = (await this.st.imagesOnlyOn.all(id)).map((r) => r.fingerprint);
    if (images.length > 0) return `Node still has the following images: ${images.join(', ')}`;
    return '';
  }

  /**
   * Deletes a member's row (Incus's Purge): its instances and the images
   * only it held go first (with the instances' volume rows); its pool,
   * image and group rows cascade.
   */
  async purge(id: number): Promise<void> {
    await this.st.clearInstanceVolumes.run(id);
    await this.st.clearInstances.run(id);
    await this.st.removeImagesOnlyOn.run(id);
    await this.st.remove.run(id);
  }

  /** Renames a member (Incus's RenameNode): false when another member has the new name. */
  async rename(oldName: string, newName: string): Promise<boolean> {
    if (await this.get(newName)) return false;
    const r = await this.st.rename.run(newName, oldName);
    if (r.changes !== 1) throw new Error(`expected to update one row, not ${r.changes}`);
    return true;
  }

  /** A member's own config (Incus's nodes_config). */
  async config(id: number): Promise<Record<string, string>> {
    return Object.fromEntries((await this.st.config.all(id)).map((r) => [r.key, r.value]));
  }

  /** Replaces a member's description and config (Incus's SetDescription and UpdateNodeConfig). */
  async update(id: number, description: string, config: Record<string, string>): Promise<void> {
    await this.st.setDescription.run(description, id);
    await replaceKeyValues(this.st.clearConfig, this.st.addConfig, id, config);
  }

  /** Records the schema and API extension count a member runs as it starts (and that it is alive). */
  async setVersion(name: string, schema: number, apiExtensions: number): Promise<void> {
    await this.st.version.run(schema, apiExtensions, name);
  }

  /** Sets a member's state (Incus's ClusterMemberState: created, evacuated, ...). */
  async setState(name: string, state: number): Promise<void> {
    await this.st.setState.run(state, name);
  }

  /** Records that the member at `address` is alive now (Incus's SetNodeHeartbeat). */
  async heartbeat(address: string): Promise<void> {
    await this.st.heartbeat.run(address);
  }
}
