/**
 * Pulling an image from another Incus-compatible server: alias and
 * fingerprint resolution through its API, then `/1.0/images/{fp}/export`
 * (with the one-time secret for a private image), unified (one file) or
 * split (multipart with "metadata" and "rootfs" parts), checked against the
 * fingerprint.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Image, ImageAliasesEntry } from '../../../api/image';
import { remoteApi, remoteGet } from './incus-http';
import type { ServerUrl } from './server-url';
import type { Fetched, ProgressFn } from './fetched';

export interface IncusSourceRef {
  server: ServerUrl;
  alias?: string;
  fingerprint?: string;
  secret?: string;
  certificate?: string;
  project?: string;
  imageType?: string;
}

function query(ref: IncusSourceRef, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  if (ref.project) q.set('project', ref.project);
  if (ref.secret) q.set('secret', ref.secret);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The remote image a reference names (alias first unless a secret is given, as Incus does). */
export async function resolveIncusImage(ref: IncusSourceRef, signal?: AbortSignal): Promise<{ image: Image; viaAlias: boolean }> {
  const opts = { signal, certificate: ref.certificate };
  let fp = ref.alias || ref.fingerprint || '';
  let viaAlias = false;
  if (!ref.secret && fp) {
    try {
      const a = await remoteApi<ImageAliasesEntry>(ref.server, `/1.0/images/aliases/${encodeURIComponent(fp)}${query(ref)}`, opts);
      if (!ref.imageType || a.type === ref.imageType) {
        fp = a.target;
        viaAlias = true;
      }
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
  }
  const image = await remoteApi<Image>(ref.server, `/1.0/images/${encodeURIComponent(fp)}${query(ref)}`, opts).catch((err: Error) => {
    throw new Error(`Failed getting remote image info: ${err.message}`);
  });
  return { image, viaAlias };
}

function counting(onChunk: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      onChunk(chunk.length);
      cb(null, chunk);
    },
  });
}

async function receiveMultipart(res: IncomingMessage, dest: { meta: string; root: string }, progress: (n: number) => void): Promise<boolean> {
  const busboy = (require('busboy') as typeof import('busboy'))({ headers: res.headers, limits: { files: 2 } });
  const writes: Promise<void>[] = [];
  let sawRoot = false;
  busboy.on('file', (field, stream) => {
    const target = field === 'metadata' ? dest.meta : field === 'rootfs' || field === 'rootfs.img' ? dest.root : null;
    if (!target) {
      stream.resume();
      return;
    }
    if (target === dest.root) sawRoot = true;
    writes.push(pipeline(stream, counting(progress), createWriteStream(target, { mode: 0o600 })));
  });
  await pipeline(res, busboy);
  await Promise.all(writes);
  return sawRoot;
}

/** Downloads the image into dest.meta (and dest.root for a split one) and checks its fingerprint. */
export async function fetchIncusImage(
  ref: IncusSourceRef,
  image: Image,
  dest: { meta: string; root: string },
  opts: { signal?: AbortSignal; onProgress?: ProgressFn } = {},
): Promise<Fetched> {
  const res = await remoteGet(ref.server, `/1.0/images/${encodeURIComponent(image.fingerprint)}/export${query(ref)}`, {
    signal: opts.signal,
    certificate: ref.certificate,
  });
  try {
    if ((res.statusCode ?? 500) !== 200) {
      let msg = `HTTP ${res.statusCode}`;
      try {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        msg = (JSON.parse(Buffer.concat(chunks).toString()) as { error?: string }).error || msg;
      } catch {
        // Not an error envelope; keep the status.
      }
      throw new Error(`Failed to download image: ${msg}`);
    }
    const total = Number(res.headers['content-length'] ?? 0) || image.size;
    let received = 0;
    const progress = (n: number): void => {
      received += n;
      opts.onProgress?.('metadata', received, total);
    };
    const type = String(res.headers['content-type'] ?? '').split(';')[0]?.trim();
    let split = false;
    if (type === 'multipart/form-data') split = await receiveMultipart(res, dest, progress);
    else await pipeline(res, counting(progress), createWriteStream(dest.meta, { mode: 0o600 }));
    const hash = createHash('sha256');
    let size = 0;
    for (const f of split ? [dest.meta, dest.root] : [dest.meta]) {
      for await (const chunk of createReadStream(f)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
    }
    const got = hash.digest('hex');
    if (got !== image.fingerprint) throw new Error(`Image fingerprint doesn't match. Got ${got} expected ${image.fingerprint}`);
    return { image, metaFile: dest.meta, rootFile: split ? dest.root : undefined, size };
  } catch (err) {
    await rm(dest.meta, { force: true });
    await rm(dest.root, { force: true });
    throw err;
  }
}
