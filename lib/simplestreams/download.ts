/**
 * HTTP(S) downloads to a file, hashed on the way (node's fetch), with the
 * error wording of Incus's downloader and a progress callback.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Bytes received so far, and the total when the server said it. */
export type ProgressHandler = (received: number, total: number | null) => void;

export interface DownloadOptions {
  /** Expected sha256 (hex); the file is removed and an error thrown when it differs. */
  sha256?: string;
  signal?: AbortSignal;
  onProgress?: ProgressHandler;
  userAgent?: string;
}

/** Thrown for a 404, so callers can tell a stale index from a broken server. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** How long a server may take to start answering (Incus's ResponseHeaderTimeout). */
const HEADER_TIMEOUT_MS = 30_000;

/** GET url as a response, failing on a non-200 status with Incus's wording. */
export async function httpGet(url: string, opts: { signal?: AbortSignal; userAgent?: string } = {}): Promise<Response> {
  let res: Response;
  const abort = new AbortController();
  const onAbort = (): void => abort.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => abort.abort(new Error(`no response within ${HEADER_TIMEOUT_MS / 1000} s`)), HEADER_TIMEOUT_MS);
  try {
    res = await fetch(url, { signal: abort.signal, headers: { 'User-Agent': opts.userAgent ?? 'incus-ts' }, redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(`Unable to fetch ${url}: ${cause ?? (err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (res.status === 404) throw new NotFoundError(`Unable to fetch ${url}: resource not found`);
  if (res.status !== 200) throw new Error(`Unable to fetch ${url}: ${res.status} ${res.statusText}`);
  return res;
}

/** Downloads url into dest; resolves with its size and sha256. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<{ size: number; sha256: string }> {
  const res = await httpGet(url, opts);
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader ? Number(lengthHeader) : null;
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      opts.onProgress?.(size, total);
      cb(null, chunk);
    },
  });
  try {
    if (!res.body) throw new Error(`Unable to fetch ${url}: empty response`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), tap, createWriteStream(dest, { mode: 0o600 }), {
      signal: opts.signal,
    });
    const sha256 = hash.digest('hex');
    if (opts.sha256 && sha256 !== opts.sha256) throw new Error(`Hash mismatch for ${url}: ${sha256} != ${opts.sha256}`);
    return { size, sha256 };
  } catch (err) {
    await rm(dest, { force: true });
    throw err;
  }
}
