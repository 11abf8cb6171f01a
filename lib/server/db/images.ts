/** Image rows and their aliases. */
import { jsonMap } from './database';
import type { LocalNode } from './members';
import { type Sql, Statements } from './sql';

export interface ImageRecord {
  id: number;
  project: string;
  fingerprint: string;
  filename: string;
  size: number;
  public: boolean;
  architecture: string;
  type: 'container' | 'virtual-machine';
  createdAt: string;
  expiresAt: string;
  uploadedAt: string;
  lastUsedAt: string;
  cached: boolean;
  autoUpdate: boolean;
  properties: Record<string, string>;
}

export type NewImage = Omit<ImageRecord, 'id'>;

export interface AliasRecord {
  id: number;
  project: string;
  name: string;
  description: string;
  fingerprint: string;
  type: string;
}

interface Row {
  id: number;
  project: string;
  fingerprint: string;
  filename: string;
  size: number;
  public: number;
  architecture: string;
  type: string;
  created_at: string;
  expires_at: string;
  uploaded_at: string;
  last_used_at: string;
  cached: number;
  auto_update: number;
  properties: string;
}

const SELECT = `SELECT im.*, p.name AS project FROM images im JOIN projects p ON p.id = im.project_id`;
const SELECT_ALIAS = `SELECT a.id, p.name AS project, a.name, a.description, im.fingerprint, im.type
  FROM image_aliases a JOIN images im ON im.id = a.image_id JOIN projects p ON p.id = a.project_id`;

export class ImageQueries {
  private readonly st;

  constructor(
    sql: Sql,
    private readonly node: LocalNode = { id: 1 },
  ) {
    const s = new Statements(sql);
    this.st = {
      addNode: s.prepare<[number, number]>('INSERT OR IGNORE INTO images_nodes (image_id, node_id) VALUES (?, ?)'),
      holders: s.prepare<[string], { address: string; node_id: number }>(
        `SELECT DISTINCT n.address, n.id AS node_id FROM images_nodes inn JOIN images im ON im.id = inn.image_id
         JOIN nodes n ON n.id = inn.node_id WHERE im.fingerprint = ? ORDER BY n.id`,
      ),
      idsOf: s.prepare<[string], { id: number }>('SELECT id FROM images WHERE fingerprint = ?'),
      list: s.prepare<[string], Row>(`${SELECT} WHERE p.name = ? ORDER BY im.fingerprint`),
      byPrefix: s.prepare<[string, string], Row>(
        `${SELECT} WHERE p.name = ? AND im.fingerprint >= ? ORDER BY im.fingerprint LIMIT 2`,
      ),
      insert: s.named(
        `INSERT INTO images (project_id, fingerprint, filename, size, public, architecture, type, created_at,
           expires_at, uploaded_at, last_used_at, cached, auto_update, properties)
         VALUES ((SELECT id FROM projects WHERE name = @project), @fingerprint, @filename, @size, @public,
           @architecture, @type, @createdAt, @expiresAt, @uploadedAt, @lastUsedAt, @cached, @autoUpdate, @properties)`,
      ),
      update: s.prepare('UPDATE images SET public = ?, auto_update = ?, properties = ?, expires_at = ? WHERE id = ?'),
      lastUsed: s.prepare('UPDATE images SET last_used_at = ? WHERE id = ?'),
      remove: s.prepare('DELETE FROM images WHERE id = ?'),
      aliases: s.prepare<[string], AliasRecord>(`${SELECT_ALIAS} WHERE p.name = ? ORDER BY a.name`),
      aliasesOf: s.prepare<[number], { name: string; description: string }>(
        'SELECT name, description FROM image_aliases WHERE image_id = ? ORDER BY name',
      ),
      alias: s.prepare<[string, string], AliasRecord>(`${SELECT_ALIAS} WHERE p.name = ? AND a.name = ?`),
      addAlias: s.prepare(
        `INSERT INTO image_aliases (project_id, name, image_id, description)
         VALUES ((SELECT id FROM projects WHERE name = ?), ?, ?, ?)`,
      ),
      updateAlias: s.prepare('UPDATE image_aliases SET image_id = ?, description = ? WHERE id = ?'),
      renameAlias: s.prepare('UPDATE image_aliases SET name = ? WHERE id = ?'),
      removeAlias: s.prepare('DELETE FROM image_aliases WHERE id = ?'),
    };
  }

  async list(project: string): Promise<ImageRecord[]> {
    return (await this.st.list.all(project)).map(toRecord);
  }

  /**
   * The one image whose fingerprint starts with prefix; undefined when none,
   * 'ambiguous' when several do.
   */
  async findByPrefix(project: string, prefix: string): Promise<ImageRecord | undefined | 'ambiguous'> {
    const rows = (await this.st.byPrefix.all(project, prefix)).filter((r) => r.fingerprint.startsWith(prefix));
    if (rows.length > 1 && rows[0].fingerprint !== prefix) return 'ambiguous';
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async create(rec: NewImage): Promise<ImageRecord> {
    const info = await this.st.insert.run({
      ...rec,
      public: rec.public ? 1 : 0,
      cached: rec.cached ? 1 : 0,
      autoUpdate: rec.autoUpdate ? 1 : 0,
      properties: JSON.stringify(rec.properties),
    });
    const id = Number(info.lastInsertRowid);
    await this.st.addNode.run(id, this.node.id);
    return { ...rec, id };
  }

  /** The addresses of the members whose disks hold the image's files (this one's id included). */
  async holders(fingerprint: string): Promise<{ address: string; nodeId: number }[]> {
    return (await this.st.holders.all(fingerprint)).map((r) => ({ address: r.address, nodeId: r.node_id }));
  }

  /** Records that this member's disk now holds the image's files too (every project's row of it). */
  async heldHere(fingerprint: string): Promise<void> {
    for (const r of await this.st.idsOf.all(fingerprint)) await this.st.addNode.run(r.id, this.node.id);
  }

  async update(rec: ImageRecord): Promise<void> {
    await this.st.update.run(rec.public ? 1 : 0, rec.autoUpdate ? 1 : 0, JSON.stringify(rec.properties), rec.expiresAt, rec.id);
  }

  async touch(id: number, when: string): Promise<void> {
    await this.st.lastUsed.run(when, id);
  }

  async delete(id: number): Promise<void> {
    await this.st.remove.run(id);
  }

  async aliases(project: string): Promise<AliasRecord[]> {
    return this.st.aliases.all(project);
  }

  async aliasesOf(imageId: number): Promise<{ name: string; description: string }[]> {
    return this.st.aliasesOf.all(imageId);
  }

  async alias(project: string, name: string): Promise<AliasRecord | undefined> {
    return this.st.alias.get(project, name);
  }

  async addAlias(project: string, name: string, imageId: number, description: string): Promise<void> {
    await this.st.addAlias.run(project, name, imageId, description);
  }

  async updateAlias(id: number, imageId: number, description: string): Promise<void> {
    await this.st.updateAlias.run(imageId, description, id);
  }

  async renameAlias(id: number, name: string): Promise<void> {
    await this.st.renameAlias.run(name, id);
  }

  async deleteAlias(id: number): Promise<void> {
    await this.st.removeAlias.run(id);
  }
}

function toRecord(r: Row): ImageRecord {
  return {
    id: r.id,
    project: r.project,
    fingerprint: r.fingerprint,
    filename: r.filename,
    size: r.size,
    public: r.public === 1,
    architecture: r.architecture,
    type: r.type as ImageRecord['type'],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    uploadedAt: r.uploaded_at,
    lastUsedAt: r.last_used_at,
    cached: r.cached === 1,
    autoUpdate: r.auto_update === 1,
    properties: jsonMap(r.properties),
  };
}
