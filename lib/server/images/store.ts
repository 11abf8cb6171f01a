/**
 * The local image store: files under $INCUS_DIR/images/<sha256>, rows in
 * the database, aliases. Uploads are hashed while they stream to disk.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Image } from '../../api/image';
import type { Db, Queries } from '../db';
import type { ImageRecord } from '../db/images';
import { badRequest, conflict, notFound } from '../errors';
import { parseImageMetadata } from './metadata';
import { readImageMetadata } from './unpack';
import { type ImageType, splitImageType, unifiedImageType } from './image-type';
import type { SplitUpload } from './multipart';
import { childPath } from '../names';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Prefixes of the temporary files uploads and publishing write under images/ (before the fingerprint is known). */
const PARTIAL_PREFIXES = ['upload-', 'publish-'];

export interface UploadOptions {
  project: string;
  filename: string;
  public: boolean;
  properties: Record<string, string>;
  /** Fingerprint the client expects; the upload fails when it differs. */
  expectedFingerprint?: string;
}

/** The project's image with this fingerprint or unique prefix (through `db`, a transaction's queries or the engine's); 404 or 400 otherwise. */
export async function imageOf(db: Queries, project: string, prefix: string): Promise<ImageRecord> {
  if (!/^[0-9a-f]+$/.test(prefix)) throw notFound('Image not found');
  const r = await db.images.findByPrefix(project, prefix);
  if (r === 'ambiguous') throw badRequest(`More than one image matches "${prefix}"`);
  if (!r) throw notFound('Image not found');
  return r;
}

export class ImageStore {
  readonly dir: string;
  /** Ids of uploads in flight: their `upload-<id>*` files are not leftovers. */
  private readonly activeUploads = new Set<string>();

  constructor(
    varDir: string,
    private readonly db: Db,
  ) {
    this.dir = join(varDir, 'images');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    // Uploads and publishes a crash interrupted: nothing can be writing them yet (the API is not up).
    for (const n of await readdir(this.dir)) {
      if (PARTIAL_PREFIXES.some((p) => n.startsWith(p))) await rm(join(this.dir, n), { recursive: true, force: true });
    }
  }

  /** Registers an upload in flight; its temporary files are named `upload-<id>...`. Pair with endUpload. */
  beginUpload(): string {
    const id = randomUUID();
    this.activeUploads.add(id);
    return id;
  }

  endUpload(id: string): void {
    this.activeUploads.delete(id);
  }

  /**
   * Temporary files under images/ that no upload in flight owns: what a
   * crash or a killed request left. They hold partial data, so they can
   * only be removed, never imported.
   */
  async partialFiles(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const busy = [...this.activeUploads].map((id) => `upload-${id}`);
    // A publish- file may belong to a publish operation still running: only start-up removes those.
    return names.filter((n) => n.startsWith('upload-') && !busy.some((b) => n.startsWith(b))).sort();
  }

  /** Removes the leftovers partialFiles lists; returns their names. */
  async removePartialFiles(): Promise<string[]> {
    const names = await this.partialFiles();
    for (const n of names) await rm(join(this.dir, n), { recursive: true, force: true });
    return names;
  }

  /** Path of the image file with this fingerprint. */
  path(fingerprint: string): string {
    return childPath(this.dir, fingerprint);
  }

  /**
   * Path of a split image's rootfs file, or null for a unified image. For a
   * VM image (`type` virtual-machine) this is its qcow2 disk, handed to
   * `StorageDriver.createVolumeFromImage(pool, 'virtual-machine', ...)` as
   * `rootfsFile` just as a container image's rootfs tarball or squashfs is.
   */
  rootfsPath(fingerprint: string): string | null {
    const p = `${this.path(fingerprint)}.rootfs`;
    return existsSync(p) ? p : null;
  }

  /** Streams a unified tarball to disk, checks it is an image, and records it. */
  async importUpload(body: Readable, opts: UploadOptions): Promise<ImageRecord> {
    const id = this.beginUpload();
    const tmp = join(this.dir, `upload-${id}`);
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
      return await this.record({ metadataFile: tmp, rootfsFile: null, fingerprint: hash.digest('hex'), size }, opts);
    } finally {
      await rm(tmp, { force: true });
      this.endUpload(id);
    }
  }

  /** Records a split upload (metadata tarball + rootfs) received by receiveSplitUpload. */
  async importSplit(up: SplitUpload, opts: UploadOptions): Promise<ImageRecord> {
    try {
      const type = await splitImageType(up.rootfsFile, up.rootfsField);
      return await this.record({ metadataFile: up.metadataFile, rootfsFile: up.rootfsFile, fingerprint: up.fingerprint, size: up.size, type }, {
        ...opts,
        filename: opts.filename || up.filename,
      });
    } finally {
      await rm(up.metadataFile, { force: true });
      await rm(up.rootfsFile, { force: true });
    }
  }

  /**
   * Records an image already written under the images directory (publish,
   * download): a unified tarball, or with `rootfsFile` a split image, which
   * is fingerprinted over both files in order as Incus does.
   */
  async importFile(file: string, opts: UploadOptions, rootfsFile?: string): Promise<ImageRecord> {
    const files = rootfsFile ? [file, rootfsFile] : [file];
    const hash = createHash('sha256');
    let size = 0;
    try {
      for (const f of files) {
        for await (const chunk of createReadStream(f)) {
          hash.update(chunk as Buffer);
          size += (chunk as Buffer).length;
        }
      }
    } catch (err) {
      for (const f of files) await rm(f, { force: true });
      throw err;
    }
    const fingerprint = hash.digest('hex');
    if (rootfsFile) return this.importSplit({ metadataFile: file, rootfsFile, fingerprint, size, filename: opts.filename }, opts);
    try {
      return await this.record({ metadataFile: file, rootfsFile: null, fingerprint, size }, opts);
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Checks and moves received files into place under their fingerprint, then adds the row. */
  private async record(
    f: { metadataFile: string; rootfsFile: string | null; fingerprint: string; size: number; type?: ImageType },
    opts: UploadOptions,
  ): Promise<ImageRecord> {
    const { fingerprint, size } = f;
    if (opts.expectedFingerprint && opts.expectedFingerprint !== fingerprint) {
      throw badRequest(`Fingerprints don't match, got ${fingerprint} expected ${opts.expectedFingerprint}`);
    }
    if (await this.db.images.findByPrefix(opts.project, fingerprint)) {
      throw conflict('Image with same fingerprint already exists');
    }
    const md = parseImageMetadata(
      await readImageMetadata(f.metadataFile).catch((e: Error) => {
        throw badRequest(`Invalid image file: ${e.message}`);
      }),
    );
    // A unified tarball says by its members: rootfs/ (container) or rootfs.img (VM).
    const type = f.type ?? (await unifiedImageType(f.metadataFile));
    await rename(f.metadataFile, this.path(fingerprint));
    if (f.rootfsFile) await rename(f.rootfsFile, `${this.path(fingerprint)}.rootfs`);
    const now = new Date().toISOString();
    const created = md.creation_date ? new Date(md.creation_date * 1000).toISOString() : now;
    const expires = md.expiry_date ? new Date(md.expiry_date * 1000).toISOString() : ZERO_TIME;
    try {
      return await this.db.images.create({
        project: opts.project,
        fingerprint,
        filename: opts.filename,
        size,
        public: opts.public,
        architecture: md.architecture,
        type,
        createdAt: created,
        expiresAt: expires,
        uploadedAt: now,
        lastUsedAt: ZERO_TIME,
        cached: false,
        autoUpdate: false,
        properties: { ...md.properties, ...opts.properties },
      });
    } catch (err) {
      await rm(this.path(fingerprint), { force: true });
      await rm(`${this.path(fingerprint)}.rootfs`, { force: true });
      throw err;
    }
  }

  /** Finds an image by alias, full fingerprint or unique prefix; 404 otherwise. */
  async resolve(project: string, ref: string): Promise<ImageRecord> {
    const alias = await this.db.images.alias(project, ref);
    if (alias) return this.byFingerprint(project, alias.fingerprint);
    return this.byFingerprint(project, ref);
  }

  byFingerprint(project: string, prefix: string): Promise<ImageRecord> {
    return imageOf(this.db, project, prefix);
  }

  async delete(rec: ImageRecord): Promise<void> {
    await this.db.images.delete(rec.id);
    await rm(this.path(rec.fingerprint), { force: true });
    await rm(`${this.path(rec.fingerprint)}.rootfs`, { force: true });
  }

  /**
   * Set by the daemon: while `active()` (a cluster member), `fetch` copies an
   * image's files from a member holding them into `file`.
   */
  fromMembers: { active: () => boolean; fetch: (fingerprint: string, file: string) => Promise<void> } | null = null;
  private readonly fetches = new Map<string, Promise<void>>();

  /** Makes sure the image's files are on this host (a cluster member fetches them once from another; a standalone host checks nothing). */
  async ensureLocal(fingerprint: string): Promise<void> {
    const from = this.fromMembers;
    if (from === null || !from.active() || (await this.exists(fingerprint))) return;
    let pending = this.fetches.get(fingerprint);
    if (!pending) {
      pending = from.fetch(fingerprint, this.path(fingerprint)).finally(() => this.fetches.delete(fingerprint));
      this.fetches.set(fingerprint, pending);
    }
    await pending;
  }

  /** True when the image file is present on disk. */
  async exists(fingerprint: string): Promise<boolean> {
    return stat(this.path(fingerprint)).then(
      () => true,
      () => false,
    );
  }

  async toApi(rec: ImageRecord): Promise<Image> {
    const src = await this.db.imageSources.get(rec.id);
    return {
      ...(src
        ? { update_source: { alias: src.alias, certificate: src.certificate, protocol: src.protocol, server: src.server, image_type: rec.type } }
        : {}),
      aliases: await this.db.images.aliasesOf(rec.id),
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
