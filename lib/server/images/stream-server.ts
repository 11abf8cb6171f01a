/**
 * The daemon's public images as a simplestreams tree: one product per
 * image (so each local alias names exactly its image), version named by the
 * image's creation time, files served from `streams/images/{fp}/...`.
 * Per-file hashes of split images are computed once and remembered (image
 * files never change under a fingerprint).
 */
import type { Products } from '../../simplestreams/types';
import { addEntry, emptyProducts, versionNameOf } from '../../simplestreams/build';
import { sha256File } from '../../simplestreams/image-file';
import type { Db } from '../db';
import type { ImageRecord } from '../db/images';
import type { ImageStore } from './store';
import { isSquashfsFile } from './squashfs-magic';

/** Where the stream's files are served, relative to the server root. */
export const STREAM_FILES_PREFIX = 'streams/images';

interface FileHashes {
  meta: { sha256: string; size: number };
  root?: { sha256: string; size: number; squashfs: boolean };
}

export class StreamServer {
  private readonly hashes = new Map<string, Promise<FileHashes>>();

  constructor(private readonly deps: { db: Db; images: ImageStore }) {}

  private fileHashes(rec: ImageRecord): Promise<FileHashes> {
    let h = this.hashes.get(rec.fingerprint);
    if (!h) {
      h = (async () => {
        const rootfs = this.deps.images.rootfsPath(rec.fingerprint);
        if (!rootfs) return { meta: { sha256: rec.fingerprint, size: rec.size } };
        return {
          meta: await sha256File(this.deps.images.path(rec.fingerprint)),
          root: { ...(await sha256File(rootfs)), squashfs: await isSquashfsFile(rootfs) },
        };
      })();
      h.catch(() => this.hashes.delete(rec.fingerprint));
      this.hashes.set(rec.fingerprint, h);
    }
    return h;
  }

  /** The public images of a project, for the stream. */
  async publicImages(project: string): Promise<ImageRecord[]> {
    return (await this.deps.db.images.list(project)).filter((r) => r.public);
  }

  /** The products file listing the project's public images. */
  async products(project: string): Promise<Products> {
    const products = emptyProducts();
    for (const rec of await this.publicImages(project)) {
      const h = await this.fileHashes(rec);
      const props = rec.properties;
      const created = Date.parse(rec.createdAt.startsWith('0001-') ? rec.uploadedAt : rec.createdAt) / 1000;
      const base = `${STREAM_FILES_PREFIX}/${rec.fingerprint}`;
      addEntry(products, {
        productName: rec.fingerprint,
        aliases: (await this.deps.db.images.aliasesOf(rec.id)).map((a) => a.name),
        os: props.os || 'unknown',
        release: props.release || 'unknown',
        variant: props.variant || 'default',
        arch: props.architecture || rec.architecture,
        versionName: versionNameOf(Number.isFinite(created) ? created : 0),
        meta: { path: `${base}/metadata`, ...h.meta },
        ...(h.root
          ? { root: { path: `${base}/rootfs`, ...h.root, ftype: h.root.squashfs ? 'squashfs' : 'root.tar.xz', combinedSha256: rec.fingerprint } as const }
          : { combinedType: rec.type }),
      });
    }
    return products;
  }

  /** The file behind a stream path, when the image is public. */
  async file(project: string, fingerprint: string, which: string): Promise<string | null> {
    const rec = (await this.publicImages(project)).find((r) => r.fingerprint === fingerprint);
    if (!rec) return null;
    if (which === 'metadata') return this.deps.images.path(rec.fingerprint);
    if (which === 'rootfs') return this.deps.images.rootfsPath(rec.fingerprint);
    return null;
  }
}
