/**
 * Where downloaded images came from (`images_source`), and the image-cache
 * bookkeeping that goes with it: the cached flag, auto-update lists, alias
 * moves when a refresh replaces an image.
 */
import { type Sql, Statements } from './sql';

export interface ImageSourceRecord {
  imageId: number;
  server: string;
  protocol: string;
  certificate: string;
  alias: string;
}

/** An image row seen from the cache's side. */
export interface CachedImageRef {
  id: number;
  project: string;
  fingerprint: string;
  cached: boolean;
  autoUpdate: boolean;
  lastUsedAt: string;
  uploadedAt: string;
}

const REF = `SELECT im.id, p.name AS project, im.fingerprint, im.cached, im.auto_update, im.last_used_at, im.uploaded_at
  FROM images im JOIN projects p ON p.id = im.project_id`;

interface RefRow {
  id: number;
  project: string;
  fingerprint: string;
  cached: number;
  auto_update: number;
  last_used_at: string;
  uploaded_at: string;
}

function toRef(r: RefRow): CachedImageRef {
  return {
    id: r.id,
    project: r.project,
    fingerprint: r.fingerprint,
    cached: r.cached === 1,
    autoUpdate: r.auto_update === 1,
    lastUsedAt: r.last_used_at,
    uploadedAt: r.uploaded_at,
  };
}

export class ImageSourceQueries {
  private readonly st;

  constructor(sql: Sql) {
    const s = new Statements(sql);
    this.st = {
      get: s.prepare<[number], { image_id: number; server: string; protocol: string; certificate: string; alias: string }>(
        'SELECT image_id, server, protocol, certificate, alias FROM images_source WHERE image_id = ?',
      ),
      set: s.prepare(
        `INSERT INTO images_source (image_id, server, protocol, certificate, alias) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (image_id) DO UPDATE SET server = excluded.server, protocol = excluded.protocol,
           certificate = excluded.certificate, alias = excluded.alias`,
      ),
      bySource: s.prepare<[string, string, string, string, string], RefRow>(
        `${REF} JOIN images_source src ON src.image_id = im.id
         WHERE p.name = ? AND src.server = ? AND src.protocol = ? AND src.alias = ? AND im.architecture = ?
         ORDER BY im.uploaded_at DESC`,
      ),
      autoUpdate: s.prepare<[], RefRow>(`${REF} WHERE im.auto_update = 1 ORDER BY im.id`),
      cached: s.prepare<[], RefRow>(`${REF} WHERE im.cached = 1 ORDER BY im.id`),
      setCached: s.prepare('UPDATE images SET cached = ?, last_used_at = ? WHERE id = ?'),
      setAutoUpdate: s.prepare('UPDATE images SET auto_update = ? WHERE id = ?'),
      moveAliases: s.prepare('UPDATE image_aliases SET image_id = ? WHERE image_id = ?'),
    };
  }

  async get(imageId: number): Promise<ImageSourceRecord | undefined> {
    const r = await this.st.get.get(imageId);
    return r ? { imageId: r.image_id, server: r.server, protocol: r.protocol, certificate: r.certificate, alias: r.alias } : undefined;
  }

  async set(src: ImageSourceRecord): Promise<void> {
    await this.st.set.run(src.imageId, src.server, src.protocol, src.certificate, src.alias);
  }

  /** Images of a project downloaded from this server/protocol/alias for an architecture, newest first. */
  async bySource(project: string, server: string, protocol: string, alias: string, architecture: string): Promise<CachedImageRef[]> {
    return (await this.st.bySource.all(project, server, protocol, alias, architecture)).map(toRef);
  }

  /** Every image with auto_update set, all projects. */
  async autoUpdating(): Promise<CachedImageRef[]> {
    return (await this.st.autoUpdate.all()).map(toRef);
  }

  /** Every cached image, all projects. */
  async cached(): Promise<CachedImageRef[]> {
    return (await this.st.cached.all()).map(toRef);
  }

  async setCached(imageId: number, cached: boolean, lastUsedAt: string): Promise<void> {
    await this.st.setCached.run(cached ? 1 : 0, lastUsedAt, imageId);
  }

  async setAutoUpdate(imageId: number, on: boolean): Promise<void> {
    await this.st.setAutoUpdate.run(on ? 1 : 0, imageId);
  }

  /** Points every alias of one image at another (a refresh replacing the image). */
  async moveAliases(fromImageId: number, toImageId: number): Promise<void> {
    await this.st.moveAliases.run(toImageId, fromImageId);
  }
}
