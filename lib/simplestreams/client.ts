/**
 * A simplestreams image server seen as Incus's client sees it: the index,
 * the products files it lists, images and aliases derived from them, and
 * verified downloads of an image's files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Image, ImageAliasesEntry } from '../api/image';
import { hostArchitecture } from './arch';
import { type DownloadOptions, downloadFile, httpGet } from './download';
import { type StreamAlias, applyAliases, productsToImages } from './products';
import type { ImageFiles, Products, Stream } from './types';

const INDEX_PATH = 'streams/v1/index.json';

/** What the stream offers, computed once per client. */
interface Catalog {
  images: Image[];
  aliases: StreamAlias[];
  files: Map<string, ImageFiles>;
}

/** Where downloaded files went: `meta` always, `root` for a split image. */
export interface DownloadedImage {
  image: Image;
  metaFile: string;
  rootFile?: string;
  size: number;
}

/** `base` + `path` as Go's url.JoinPath joins them (base keeps its own path). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

export class SimpleStreamsClient {
  private catalog?: Promise<Catalog>;

  constructor(
    readonly url: string,
    private readonly opts: { userAgent?: string; hostArch?: string } = {},
  ) {}

  private async json<T>(path: string, signal?: AbortSignal): Promise<T> {
    const url = joinUrl(this.url, path);
    const res = await httpGet(url, { signal, userAgent: this.opts.userAgent });
    const text = await res.text();
    if (text.length === 0) throw new Error(`No content in download from "${url}"`);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`Failed decoding stream JSON from "${url}": ${(err as Error).message}`);
    }
  }

  private load(): Promise<Catalog> {
    this.catalog ??= (async () => {
      const stream = await this.json<Stream>(INDEX_PATH).catch((err: Error) => {
        throw new Error(`Failed parsing stream: ${err.message}`);
      });
      const all: Image[] = [];
      const files = new Map<string, ImageFiles>();
      for (const entry of Object.values(stream.index ?? {})) {
        if (entry.datatype !== 'image-downloads' || !entry.products || entry.products.length === 0) continue;
        const products = await this.json<Products>(entry.path).catch((err: Error) => {
          throw new Error(`Failed parsing products: ${err.message}`);
        });
        const r = productsToImages(products);
        all.push(...r.images);
        for (const [fp, f] of r.files) files.set(fp, f);
      }
      const { images, aliases } = applyAliases(all, this.opts.hostArch ?? hostArchitecture());
      return { images, aliases, files };
    })();
    this.catalog.catch(() => (this.catalog = undefined));
    return this.catalog;
  }

  /** Forgets what was read, so the next call reads the stream again. */
  invalidate(): void {
    this.catalog = undefined;
  }

  async listImages(): Promise<Image[]> {
    return (await this.load()).images;
  }

  /** One entry per alias name and type (the preferred architecture's). */
  async listAliases(): Promise<ImageAliasesEntry[]> {
    const out: ImageAliasesEntry[] = [];
    for (const a of (await this.load()).aliases) {
      if (out.some((x) => x.name === a.name && x.type === a.type)) continue;
      out.push({ name: a.name, description: a.description, target: a.target, type: a.type });
    }
    return out;
  }

  /** The alias `name` (of `type` when given). @throws Error as Incus words a missing or ambiguous alias. */
  async getAlias(name: string, type = ''): Promise<ImageAliasesEntry> {
    let match: StreamAlias | undefined;
    for (const a of (await this.load()).aliases) {
      if (a.name !== name || (type !== '' && a.type !== type)) continue;
      if (match) {
        if (match.type !== a.type) throw new Error(`More than one match for alias '${name}'`);
        continue;
      }
      match = a;
    }
    if (!match) throw new Error(`Alias '${name}' doesn't exist`);
    return { name: match.name, description: match.description, target: match.target, type: match.type };
  }

  /** The image whose fingerprint starts with `prefix`. */
  async getImage(prefix: string): Promise<Image> {
    const hits = (await this.load()).images.filter((i) => i.fingerprint.startsWith(prefix));
    if (hits.length === 0) throw new Error("The requested image couldn't be found");
    if (hits.length > 1) throw new Error('More than one match for the provided partial fingerprint');
    return hits[0] as Image;
  }

  /** An alias, else a fingerprint (prefix), as `incus launch` resolves image names. */
  async resolve(ref: string, type = ''): Promise<Image> {
    try {
      return await this.getImage((await this.getAlias(ref, type)).target);
    } catch (err) {
      if (!/doesn't exist/.test((err as Error).message)) throw err;
    }
    return this.getImage(ref);
  }

  async getFiles(fingerprint: string): Promise<ImageFiles> {
    const f = (await this.load()).files.get((await this.getImage(fingerprint)).fingerprint);
    if (!f) throw new Error("Couldn't find the requested image");
    return f;
  }

  /**
   * Downloads an image's files into `dir`-relative paths chosen by the
   * caller, each checked against its sha256, then the whole against the
   * fingerprint (sha256 of metadata followed by rootfs). Files are removed
   * on failure.
   */
  async download(
    fingerprint: string,
    dest: { meta: string; root: string },
    opts: Pick<DownloadOptions, 'signal'> & { onProgress?: (stage: 'metadata' | 'rootfs', received: number, total: number) => void } = {},
  ): Promise<DownloadedImage> {
    const image = await this.getImage(fingerprint);
    const files = await this.getFiles(image.fingerprint);
    try {
      const get = async (which: 'metadata' | 'rootfs', f: { path: string; sha256: string; size: number }, file: string): Promise<number> => {
        const r = await downloadFile(joinUrl(this.url, f.path), file, {
          sha256: f.sha256,
          signal: opts.signal,
          userAgent: this.opts.userAgent,
          onProgress: (n, total) => opts.onProgress?.(which, n, total ?? f.size),
        });
        return r.size;
      };
      let size = await get('metadata', files.meta, dest.meta);
      if (files.root) size += await get('rootfs', files.root, dest.root);
      const hash = createHash('sha256');
      for (const f of files.root ? [dest.meta, dest.root] : [dest.meta]) {
        for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer);
      }
      const got = hash.digest('hex');
      if (got !== image.fingerprint) throw new Error(`Image fingerprint doesn't match. Got ${got} expected ${image.fingerprint}`);
      return { image, metaFile: dest.meta, rootFile: files.root ? dest.root : undefined, size };
    } catch (err) {
      await rm(dest.meta, { force: true });
      await rm(dest.root, { force: true });
      throw err;
    }
  }
}
