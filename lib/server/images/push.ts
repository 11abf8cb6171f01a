/**
 * Pushing an image to another server (POST /1.0/images/{fp}/export), as
 * Incus's imageExportPost does: the image's files go to the target's
 * POST /1.0/images as an upload carrying X-Incus-fingerprint and
 * X-Incus-secret (the secret of the push token the target gave the
 * client), then the target's operation is waited for with the secret its
 * answer holds. The target checks the fingerprint, so a copy is stored
 * whole or not at all.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import type { ImageAlias } from '../../api/image';
import type { Operation } from '../../api/operation';
import type { ImageRecord } from '../db/images';
import { type SplitBody, splitImageBody } from './export';
import { byteSize } from './remote/progress';
import { readEnvelope, remoteRequest } from './remote/incus-http';
import type { ServerUrl } from './remote/server-url';
import type { ImageStore } from './store';

/** Where and how to push. */
export interface PushTarget {
  server: ServerUrl;
  /** The target's certificate (PEM); without it the system CAs apply. */
  certificate?: string;
  secret: string;
  /** The target project ("" or undefined: the target's default). */
  project?: string;
  aliases?: ImageAlias[];
  profiles?: string[];
}

/** Counts the bytes going through, reporting `{upload_progress: "45% (1.20MB/s)"}` at most every 200 ms. */
function progressCounter(total: number, report: (md: Record<string, unknown>) => void): Transform {
  const started = Date.now();
  let sent = 0;
  let lastAt = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      const now = Date.now();
      if (now - lastAt >= 200 || sent === total) {
        lastAt = now;
        const percent = total > 0 ? Math.min(100, Math.floor((sent * 100) / total)) : 0;
        report({ upload_progress: `${percent}% (${byteSize(sent / Math.max((now - started) / 1000, 0.001))}/s)` });
      }
      cb(null, chunk);
    },
  });
}

/** The image's files as an upload body: the unified tarball, or both parts of a split image (same shape as an export). */
async function uploadBody(images: ImageStore, rec: ImageRecord): Promise<SplitBody> {
  const rootfs = images.rootfsPath(rec.fingerprint);
  if (rootfs) return splitImageBody(images.path(rec.fingerprint), rootfs, rec.fingerprint, rec.type);
  const file = images.path(rec.fingerprint);
  return { contentType: 'application/octet-stream', length: (await stat(file)).size, stream: createReadStream(file) };
}

/** Pushes `rec` to the target and resolves once the target's operation succeeded. */
export async function pushImage(
  images: ImageStore,
  rec: ImageRecord,
  to: PushTarget,
  opts: { signal?: AbortSignal; report?: (md: Record<string, unknown>) => void } = {},
): Promise<void> {
  const body = await uploadBody(images, rec);
  const headers: Record<string, string> = {
    'Content-Type': body.contentType,
    'Content-Length': String(body.length),
    'X-Incus-fingerprint': rec.fingerprint,
    'X-Incus-secret': to.secret,
  };
  if (rec.filename) headers['X-Incus-filename'] = rec.filename;
  if (to.aliases && to.aliases.length > 0) headers['X-Incus-aliases'] = new URLSearchParams(to.aliases.map((a): [string, string] => ['alias', a.name])).toString();
  if (to.profiles && to.profiles.length > 0) headers['X-Incus-profiles'] = new URLSearchParams(to.profiles.map((p): [string, string] => ['profile', p])).toString();
  const query = to.project ? `?project=${encodeURIComponent(to.project)}` : '';
  const counted = progressCounter(body.length, opts.report ?? (() => undefined));
  // A file that fails to read fails the upload (pipe alone would leave it hanging).
  body.stream.on('error', (err) => counted.destroy(err));
  body.stream.pipe(counted);
  const res = await remoteRequest(to.server, 'POST', `/1.0/images${query}`, { headers, body: counted, signal: opts.signal, certificate: to.certificate });
  const env = await readEnvelope(res, 'POST /1.0/images');
  if (env.type !== 'async') throw new Error(`Expected an operation from the target, got a ${env.type} response`);
  const op = env.metadata as Operation;
  const secret = typeof op.metadata?.secret === 'string' ? op.metadata.secret : '';
  const wait = `/1.0/operations/${encodeURIComponent(op.id)}/wait?timeout=-1${secret ? `&secret=${encodeURIComponent(secret)}` : ''}`;
  const done = (await readEnvelope(await remoteRequest(to.server, 'GET', wait, { signal: opts.signal, certificate: to.certificate }), 'operation wait')).metadata as Operation;
  if (done.status_code !== 200) throw new Error(`Failed operation "${done.status}": "${done.err}"`);
}
