/**
 * Image calls beyond the basics in client.ts: update, refresh, secrets,
 * JSON creation (copy from another server, publish, push tokens), push to
 * another server, alias rename, and
 * export streamed to files (a unified tarball, or both parts of a split
 * image's multipart answer).
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { Image, ImageAlias, ImageExportPost, ImagePut } from '../api/image';
import type { IncusClient, WriteOptions, CallOptions } from './client';
import { openDownload } from './download';
import { ApiError } from './errors';
import type { Operation } from './operation';

const seg = encodeURIComponent;

/** POST /1.0/images as JSON (not an upload). */
export interface ImagesPost {
  source: Record<string, unknown>;
  aliases?: ImageAlias[];
  auto_update?: boolean;
  public?: boolean;
  properties?: Record<string, string>;
  compression_algorithm?: string;
  filename?: string;
  expires_at?: string;
  /** Publish only: "unified" or "split" (API extension instance_publish_split). */
  format?: string;
}

async function asyncOp(client: IncusClient, method: 'POST', path: string, body: unknown, opts: CallOptions): Promise<Operation> {
  const env = await client.request(method, path, { body, project: opts.project, signal: opts.signal });
  if (env.type !== 'async') throw new ApiError(0, `Expected an operation from ${method} ${path}, got a ${env.type} response`);
  const { Operation: Handle } = require('./operation') as typeof import('./operation');
  return new Handle(client, env.operation, opts.project ?? client.project);
}

export async function getImageWithEtag(client: IncusClient, fingerprint: string, opts: CallOptions = {}): Promise<{ value: Image; etag: string }> {
  const env = await client.request('GET', `/1.0/images/${seg(fingerprint)}`, opts);
  if (env.type !== 'sync') throw new ApiError(0, 'Expected a sync response');
  return { value: env.metadata as Image, etag: env.etag };
}

export async function updateImage(client: IncusClient, fingerprint: string, put: ImagePut, opts: WriteOptions = {}): Promise<void> {
  await client.request('PUT', `/1.0/images/${seg(fingerprint)}`, { ...opts, body: put });
}

export function refreshImage(client: IncusClient, fingerprint: string, opts: CallOptions = {}): Promise<Operation> {
  return asyncOp(client, 'POST', `/1.0/images/${seg(fingerprint)}/refresh`, undefined, opts);
}

/** A one-time secret letting another server pull a private image. */
export async function getImageSecret(client: IncusClient, fingerprint: string, opts: CallOptions = {}): Promise<string> {
  const op = await asyncOp(client, 'POST', `/1.0/images/${seg(fingerprint)}/secret`, undefined, opts);
  const secret = op.data.metadata?.secret;
  if (typeof secret !== 'string') throw new ApiError(0, 'No token provided');
  return secret;
}

/** POST /1.0/images with a JSON body (pull from a server, publish an instance). */
export function createImage(client: IncusClient, post: ImagesPost, opts: CallOptions = {}): Promise<Operation> {
  return asyncOp(client, 'POST', '/1.0/images', post, opts);
}

/** POST /1.0/images/{fp}/export: has the server push the image to another server. */
export function exportImageToServer(client: IncusClient, fingerprint: string, post: ImageExportPost, opts: CallOptions = {}): Promise<Operation> {
  return asyncOp(client, 'POST', `/1.0/images/${seg(fingerprint)}/export`, post, opts);
}

export async function renameImageAlias(client: IncusClient, name: string, newName: string, opts: CallOptions = {}): Promise<void> {
  await client.request('POST', `/1.0/images/aliases/${seg(name)}`, { ...opts, body: { name: newName } });
}

/** What an export wrote. */
export interface ExportedImage {
  /** Names the server gave the files (Content-Disposition / multipart filenames). */
  metaName: string;
  rootfsName: string;
  metaSize: number;
  rootfsSize: number;
}


function dispositionName(h: string | string[] | undefined): string {
  const v = Array.isArray(h) ? h[0] : h;
  const m = /filename="?([^";]+)"?/.exec(v ?? '');
  return m?.[1] ?? '';
}

/**
 * Streams GET /1.0/images/{fp}/export into `meta` (and `rootfs` for a split
 * image); `onProgress` gets bytes received and the expected total.
 */
export async function exportImageToFiles(
  client: IncusClient,
  fingerprint: string,
  dest: { meta: string; rootfs: string },
  opts: CallOptions & { onProgress?: (received: number, total: number) => void } = {},
): Promise<ExportedImage> {
  const project = opts.project ?? client.project;
  const path = `/1.0/images/${seg(fingerprint)}/export${project ? `?project=${seg(project)}` : ''}`;
  const res = await openDownload(client, path, 'Image export');
  const total = Number(res.headers['content-length'] ?? 0);
  let received = 0;
  const count = (): Transform =>
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        received += chunk.length;
        opts.onProgress?.(received, total);
        cb(null, chunk);
      },
    });
  const out: ExportedImage = { metaName: '', rootfsName: '', metaSize: 0, rootfsSize: 0 };
  try {
    const type = String(res.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (type !== 'multipart/form-data') {
      out.metaName = dispositionName(res.headers['content-disposition']);
      await pipeline(res, count(), createWriteStream(dest.meta));
      out.metaSize = received;
      return out;
    }
    const busboy = (require('busboy') as typeof import('busboy'))({ headers: res.headers, limits: { files: 2 } });
    const writes: Promise<void>[] = [];
    busboy.on('file', (field, stream, info) => {
      const isMeta = field === 'metadata';
      const isRoot = field === 'rootfs' || field === 'rootfs.img';
      if (!isMeta && !isRoot) {
        stream.resume();
        return;
      }
      let n = 0;
      if (isMeta) out.metaName = info.filename ?? '';
      else out.rootfsName = info.filename ?? '';
      stream.on('data', (b: Buffer) => (n += b.length));
      writes.push(
        pipeline(stream, createWriteStream(isMeta ? dest.meta : dest.rootfs)).then(() => {
          if (isMeta) out.metaSize = n;
          else out.rootfsSize = n;
        }),
      );
    });
    await pipeline(res, count(), busboy);
    await Promise.all(writes);
    return out;
  } catch (err) {
    await rm(dest.meta, { force: true });
    await rm(dest.rootfs, { force: true });
    throw err;
  }
}
