/**
 * The local image store: files under $INCUS_DIR/images/<sha256>, rows in
 * the database, aliases. Uploads are hashed while they stream to disk.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Image } from '../../api/image';
import type { Db } from '../db';
import type { ImageRecord } from '../db/images';
import { badRequest, conflict, notFound } from '../errors';
import { parseImageMetadata } from './metadata';
import { readImageMetadata } from './unpack';

const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface UploadOptions {
  project: string;
  filename: string;
  public: boolean;
  properties: Record<string, string>;
  /** Fingerprint the client expects; the upload fails when it differs. */
  expectedFingerprint?: string;
}

export class ImageStore {
  readonly dir: string;

  constructor(
    varDir: string,
    private readonly db: Db,
  ) {
    this.dir = join(varDir, 'images');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Path of the image file with this fingerprint. */
  path(fingerprint: string): string {
    return join(this.dir, fingerprint);
  }

  /** Streams body to disk, checks it is an image, and records it. */
  async importUpload(body: Readable, opts: UploadOptions): Promise<ImageRecord> {
    const tmp = join(this.dir, `upload-${randomUUID()}`);
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(tmp, { mode: 0o600 }));
      const fingerprint = hash.digest('hex');
      if (opts.expectedFingerprint && opts.expectedFingerprint !== fingerprint) {
        throw badRequest(`Fingerprints don't match, got ${fingerprint} expected ${opts.expectedFingerprint}`);
      }
      if (this.db.images.findByPrefix(opts.project, fingerprint)) {
        throw conflict(`Image with same fingerprint already exists`);
      }
      const md = parseImageMetadata(await readImageMetadata(tmp).catch((e: Error) => {
        throw badRequest(`Invalid image file: ${e.message}`);
      }));
      await rename(tmp, this.path(fingerprint));
      const now = new Date().toISOString();
      const created = md.creation_date ? new Date(md.creation_date * 1000).toISOString() : now;
      const expires = md.expiry_date ? new Date(md.expiry_date * 1000).toISOString() : ZERO_TIME;
      try {
        return this.db.transaction(() =>
          this.db.images.create({
            project: opts.project,
            fingerprint,
            filename: opts.filename,
            size,
            public: opts.public,
            architecture: md.architecture,
            type: 'container',
            createdAt: created,
            expiresAt: expires,
            uploadedAt: now,
            lastUsedAt: ZERO_TIME,
            cached: false,
            autoUpdate: false,
            properties: { ...md.properties, ...opts.properties },
          }),
        );
      } catch (err) {
        await rm(this.path(fingerprint), { force: true });
        throw err;
      }
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /** Finds an image by alias, full fingerprint or unique prefix; 404 otherwise. */
  resolve(project: string, ref: string): ImageRecord {
    const alias = this.db.images.alias(project, ref);
    if (alias) return this.byFingerprint(project, alias.fingerprint);
    return this.byFingerprint(project, ref);
  }

  byFingerprint(project: string, prefix: string): ImageRecord {
    if (!/^[0-9a-f]+$/.test(prefix)) throw notFound('Image not found');
    const r = this.db.images.findByPrefix(project, prefix);
    if (r === 'ambiguous') throw badRequest(`More than one image matches "${prefix}"`);
    if (!r) throw notFound('Image not found');
    return r;
  }

  async delete(rec: ImageRecord): Promise<void> {
    this.db.transaction(() => this.db.images.delete(rec.id));
    await rm(this.path(rec.fingerprint), { force: true });
  }

  /** True when the image file is present on disk. */
  async exists(fingerprint: string): Promise<boolean> {
    return stat(this.path(fingerprint)).then(
      () => true,
      () => false,
    );
  }

  toApi(rec: ImageRecord): Image {
    return {
      aliases: this.db.images.aliasesOf(rec.id),
      architecture: rec.architecture,
      cached: rec.cached,
      filename: rec.filename,
      fingerprint: rec.fingerprint,
      size: rec.size,
      type: rec.type,
      created_at: rec.createdAt,
      last_used_at: rec.lastUsedAt,
      uploaded_at: rec.uploadedAt,
      expires_at: rec.expiresAt,
      auto_update: rec.autoUpdate,
      properties: rec.properties,
      public: rec.public,
      profiles: ['default'],
      project: rec.project,
    };
  }
}
