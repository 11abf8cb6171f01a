/**
 * Getting an image from a remote server into the local store, as Incus's
 * imageDownload does: resolve the alias or fingerprint on the remote (a
 * simplestreams server or another Incus), reuse the local copy when there is
 * one, else download, verify and record it (cached for a launch,
 * auto-updating when named by alias, with its source kept for refresh).
 * Nothing is left in the store or the database when a step fails.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Image } from '../../../api/image';
import { SimpleStreamsClient } from '../../../simplestreams/client';
import type { Db } from '../../db';
import type { ImageRecord } from '../../db/images';
import { badRequest } from '../../errors';
import type { ImageStore } from '../store';
import { imageCacheConfig } from './config';
import type { Fetched, ProgressFn } from './fetched';
import { fetchIncusImage, resolveIncusImage } from './incus-fetch';
import { progressReporter } from './progress';
import { REMOTE_PROTOCOLS, type ServerUrl, parseServerUrl } from './server-url';

/** `source` of POST /1.0/images (type image) or of an instance created from a remote image. */
export interface RemoteSource {
  server: string;
  protocol?: string;
  alias?: string;
  fingerprint?: string;
  secret?: string;
  certificate?: string;
  /** Project on the source server. */
  project?: string;
  image_type?: string;
}

export interface EnsureOptions {
  project: string;
  /** Mark the image cached (a launch downloaded it). */
  setCached?: boolean;
  /** Reuse an image cached earlier from the same source and alias, as launches do. */
  preferCached?: boolean;
  /** Turn auto_update on (only when the image was named by alias). */
  autoUpdate?: boolean;
  public?: boolean;
  signal?: AbortSignal;
  /** Operation metadata updates (`download_progress`). */
  onProgress?: (md: Record<string, unknown>) => void;
}

interface Resolved {
  url: ServerUrl;
  protocol: 'incus' | 'simplestreams';
  image: Image;
  viaAlias: boolean;
  fetch: (dest: { meta: string; root: string }, onProgress?: ProgressFn) => Promise<Fetched>;
}

export class ImageDownloader {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: { db: Db; images: ImageStore }) {}

  /** Checks a source before any operation starts. @throws StatusError 400. */
  check(src: RemoteSource): { url: ServerUrl; protocol: 'incus' | 'simplestreams' } {
    if (!src.server) throw badRequest('Missing source server');
    const protocol = src.protocol || 'incus';
    if (!(REMOTE_PROTOCOLS as readonly string[]).includes(protocol)) throw badRequest(`Unsupported protocol: ${protocol}`);
    if (!src.alias && !src.fingerprint) throw badRequest('Missing image alias or fingerprint in source');
    const url = parseServerUrl(src.server);
    if (protocol === 'simplestreams' && url.kind !== 'http') throw badRequest('A simplestreams server needs an https:// URL');
    if (src.secret && protocol === 'simplestreams') throw badRequest("Private images aren't supported by the simplestreams protocol");
    return { url, protocol: protocol === 'simplestreams' ? 'simplestreams' : 'incus' };
  }

  private async resolve(src: RemoteSource, signal?: AbortSignal): Promise<Resolved> {
    const { url, protocol } = this.check(src);
    const ref = src.alias || src.fingerprint || '';
    if (protocol === 'simplestreams' && url.kind === 'http') {
      const client = new SimpleStreamsClient(url.url);
      let image: Image;
      let viaAlias = false;
      try {
        image = await client.getImage((await client.getAlias(ref, src.image_type ?? '')).target);
        viaAlias = true;
      } catch (err) {
        if (!/doesn't exist/.test((err as Error).message)) throw err;
        image = await client.getImage(ref);
      }
      return { url, protocol, image, viaAlias, fetch: (dest, onProgress) => client.download(image.fingerprint, dest, { signal, onProgress }) };
    }
    const incusRef = { server: url, alias: src.alias, fingerprint: src.fingerprint, secret: src.secret, certificate: src.certificate, project: src.project, imageType: src.image_type };
    const { image, viaAlias } = await resolveIncusImage(incusRef, signal);
    return { url, protocol, image, viaAlias, fetch: (dest, onProgress) => fetchIncusImage(incusRef, image, dest, { signal, onProgress }) };
  }

  /** Runs fn with no other ensure() on the same image at the same time. */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  /**
   * The local image for a remote source, downloading it when the project
   * has no copy. `downloaded` says whether a download happened.
   */
  async ensure(src: RemoteSource, opts: EnsureOptions): Promise<{ record: ImageRecord; downloaded: boolean }> {
    const { db, images } = this.deps;
    const r = await this.resolve(src, opts.signal);
    const fp = r.image.fingerprint;
    if (!/^[0-9a-f]{64}$/.test(fp)) throw new Error(`Invalid image fingerprint "${fp}" from ${src.server}`);
    const protocol = r.protocol;
    // Named by alias (in either field, as Incus clients send it): refreshable from that alias.
    const alias = r.viaAlias ? src.alias || src.fingerprint || '' : '';
    return this.locked(`${opts.project}/${fp}`, async () => {
      const now = new Date().toISOString();
      const cfg = imageCacheConfig(await db.config.all());
      let existing = await db.images.findByPrefix(opts.project, fp);
      if (opts.preferCached && alias && cfg.autoUpdateIntervalHours > 0) {
        // An auto-updating cache is fresh enough: use what this alias gave last time.
        const prior = (await db.imageSources.bySource(opts.project, src.server, protocol, alias, r.image.architecture))[0];
        if (prior && prior.fingerprint !== fp) existing = await db.images.findByPrefix(opts.project, prior.fingerprint);
      }
      if (existing && existing !== 'ambiguous' && existing.fingerprint.length === 64 && (await images.exists(existing.fingerprint))) {
        return { record: existing, downloaded: false };
      }
      const base = join(images.dir, `download-${randomUUID()}`);
      const dest = { meta: base, root: `${base}.rootfs` };
      const fetched = await r.fetch(dest, opts.onProgress ? progressReporter(opts.onProgress) : undefined);
      const uploadOpts = {
        project: opts.project,
        filename: r.image.filename ?? '',
        public: opts.public === true,
        properties: r.image.properties ?? {},
        expectedFingerprint: fp,
      };
      const record = fetched.rootFile
        ? await images.importSplit({ metadataFile: fetched.metaFile, rootfsFile: fetched.rootFile, fingerprint: fp, size: fetched.size, filename: uploadOpts.filename }, uploadOpts)
        : await images.importFile(fetched.metaFile, uploadOpts);
      const autoUpdate = !!alias && opts.autoUpdate === true;
      await db.transaction(async (tx) => {
        if (opts.setCached) await tx.imageSources.setCached(record.id, true, now);
        if (autoUpdate) await tx.imageSources.setAutoUpdate(record.id, true);
        if (alias) await tx.imageSources.set({ imageId: record.id, server: src.server, protocol, certificate: src.certificate ?? '', alias });
      });
      return { record: { ...record, cached: opts.setCached ? true : record.cached, autoUpdate }, downloaded: true };
    });
  }
}
