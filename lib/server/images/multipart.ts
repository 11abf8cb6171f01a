/**
 * Split image uploads (multipart/form-data with a "metadata" part and a
 * "rootfs" part, as the Incus client sends them): each part streamed to a
 * temporary file, the two hashed together as Incus fingerprints split images.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest } from '../errors';
import { lenientMultipart, multipartBoundary } from './multipart-lenient';

export interface SplitUpload {
  metadataFile: string;
  rootfsFile: string;
  size: number;
  /** sha256 over the metadata bytes followed by the rootfs bytes. */
  fingerprint: string;
  filename: string;
  /** Form field of the rootfs part: "rootfs.img" marks a VM image, as Incus reads it. */
  rootfsField?: string;
}

/**
 * Receives the parts into `dir/upload-<id>-metadata` and `-rootfs` (id from
 * ImageStore.beginUpload). On any failure, a client gone mid-way included,
 * both files are removed before the promise rejects.
 */
export async function receiveSplitUpload(body: Readable, headers: IncomingHttpHeaders, dir: string, id: string): Promise<SplitUpload> {
  const busboy = (require('busboy') as typeof import('busboy'))({ headers, limits: { files: 2, fields: 8 } });
  const files: Record<string, { path: string; size: number; name: string; field: string }> = {};
  const writes: Promise<void>[] = [];
  const sinks: Writable[] = [];
  busboy.on('file', (field, stream, info) => {
    const kind = field === 'rootfs' || field === 'rootfs.img' ? 'rootfs' : field === 'metadata' ? 'metadata' : null;
    if (!kind || files[kind]) {
      stream.resume();
      return;
    }
    const f = { path: join(dir, `upload-${id}-${kind}`), size: 0, name: info.filename ?? '', field };
    files[kind] = f;
    stream.on('data', (b: Buffer) => {
      f.size += b.length;
    });
    const sink = createWriteStream(f.path, { mode: 0o600 });
    sinks.push(sink);
    const w = pipeline(stream, sink);
    // Awaited below; a client killed mid-part must not surface as an unhandled rejection first.
    w.catch(() => undefined);
    writes.push(w);
  });
  const cleanup = async (): Promise<void> => {
    // Close every file first, so that no pending open recreates one after its removal.
    for (const k of sinks) k.destroy();
    await Promise.allSettled(writes);
    for (const f of Object.values(files)) await rm(f.path, { force: true });
  };
  try {
    const boundary = multipartBoundary(headers['content-type']);
    if (boundary) await pipeline(body, lenientMultipart(boundary), busboy);
    else await pipeline(body, busboy);
    await Promise.all(writes);
    const md = files.metadata;
    const rootfs = files.rootfs;
    if (!md || !rootfs) throw badRequest('Split image upload needs a "metadata" and a "rootfs" part');
    const hash = createHash('sha256');
    for (const f of [md, rootfs]) {
      for await (const chunk of createReadStream(f.path)) hash.update(chunk as Buffer);
    }
    return { metadataFile: md.path, rootfsFile: rootfs.path, size: md.size + rootfs.size, fingerprint: hash.digest('hex'), filename: md.name, rootfsField: rootfs.field };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
