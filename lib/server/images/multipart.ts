/**
 * Split image uploads (multipart/form-data with a "metadata" part and a
 * "rootfs" part, as the Incus client sends them): each part streamed to a
 * temporary file, the two hashed together as Incus fingerprints split images.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { badRequest } from '../errors';

export interface SplitUpload {
  metadataFile: string;
  rootfsFile: string;
  size: number;
  /** sha256 over the metadata bytes followed by the rootfs bytes. */
  fingerprint: string;
  filename: string;
}

export async function receiveSplitUpload(body: Readable, headers: IncomingHttpHeaders, dir: string): Promise<SplitUpload> {
  const busboy = (require('busboy') as typeof import('busboy'))({ headers, limits: { files: 2, fields: 8 } });
  const id = randomUUID();
  const files: Record<string, { path: string; size: number; name: string }> = {};
  const writes: Promise<void>[] = [];
  busboy.on('file', (field, stream, info) => {
    const kind = field === 'rootfs' || field === 'rootfs.img' ? 'rootfs' : field === 'metadata' ? 'metadata' : null;
    if (!kind || files[kind]) {
      stream.resume();
      return;
    }
    const f = { path: join(dir, `upload-${id}-${kind}`), size: 0, name: info.filename ?? '' };
    files[kind] = f;
    stream.on('data', (b: Buffer) => {
      f.size += b.length;
    });
    writes.push(pipeline(stream, createWriteStream(f.path, { mode: 0o600 })));
  });
  const cleanup = async (): Promise<void> => {
    for (const f of Object.values(files)) await rm(f.path, { force: true });
  };
  try {
    await pipeline(body, busboy);
    await Promise.all(writes);
    const md = files.metadata;
    const rootfs = files.rootfs;
    if (!md || !rootfs) throw badRequest('Split image upload needs a "metadata" and a "rootfs" part');
    const hash = createHash('sha256');
    for (const f of [md, rootfs]) {
      for await (const chunk of createReadStream(f.path)) hash.update(chunk as Buffer);
    }
    return { metadataFile: md.path, rootfsFile: rootfs.path, size: md.size + rootfs.size, fingerprint: hash.digest('hex'), filename: md.name };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
