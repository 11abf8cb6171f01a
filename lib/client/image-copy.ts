/**
 * Copying an image between two Incus servers in push or relay mode, as
 * Incus's client CopyImage does (pull mode is one POST /1.0/images on the
 * target naming the source):
 * - push: the target hands out a push token (an operation with a secret),
 *   and the source is told to push the image there with that secret
 *   (POST /1.0/images/{fp}/export); the source's operation tells the outcome;
 * - relay: this client streams the source's export into an upload to the
 *   target, for servers that cannot reach each other. A split image's
 *   multipart export is already the body the upload takes, so the bytes go
 *   through as they come, never all held in memory or on disk.
 */
import { Transform } from 'node:stream';
import type { Image, ImageAlias } from '../api/image';
import type { Operation as OperationData } from '../api/operation';
import type { IncusClient } from './client';
import { openDownload } from './download';
import { ApiError } from './errors';
import { createImage, exportImageToServer } from './images';
import type { Operation } from './operation';

const seg = encodeURIComponent;

/** What the copy gets on the target. */
export interface ImageCopyOptions {
  aliases: ImageAlias[];
  public: boolean;
}

/** A copy under way. */
export interface ImageCopyOperation {
  /** The operation whose progress to show. */
  readonly progressOf: Operation;
  /** Resolves once the target has the image. */
  wait(): Promise<OperationData>;
}

/** How the source reaches the target. */
export interface PushDestination {
  /** The target's URL as the source should dial it. */
  address: string;
  /** The target's certificate (PEM); "" to trust the system CAs. */
  certificate: string;
}

/**
 * Push mode: a token from `target` (its client's project is where the copy
 * goes), then the source pushes `image` to `to.address`.
 */
export async function pushImageCopy(
  source: IncusClient,
  target: IncusClient,
  image: Pick<Image, 'fingerprint' | 'properties' | 'expires_at'>,
  to: PushDestination,
  a: ImageCopyOptions,
): Promise<ImageCopyOperation> {
  const tokenOp = await createImage(target, {
    source: { fingerprint: image.fingerprint, mode: 'push' },
    aliases: a.aliases,
    expires_at: image.expires_at,
    properties: image.properties,
    public: a.public,
  });
  const secret = tokenOp.data.metadata?.secret;
  if (typeof secret !== 'string') throw new ApiError(0, 'No token provided');
  let exportOp: Operation;
  try {
    exportOp = await exportImageToServer(source, image.fingerprint, {
      target: to.address,
      certificate: to.certificate,
      secret,
      project: target.project ?? '',
      profiles: [],
    });
  } catch (err) {
    await tokenOp.cancel().catch(() => undefined);
    throw err;
  }
  return {
    progressOf: exportOp,
    // The token is used up by the push; cancelling it covers a push that never arrived.
    wait: () => exportOp.wait().finally(() => tokenOp.cancel().catch(() => undefined)),
  };
}

/**
 * Relay mode: streams GET /1.0/images/{fp}/export on the source into
 * POST /1.0/images on the target (aliases and public as headers, applied
 * by the target with the image); `onProgress` gets bytes relayed and the
 * export's length. Resolves with the target's operation once the upload
 * has been taken.
 */
export async function relayImageCopy(
  source: IncusClient,
  target: IncusClient,
  image: Pick<Image, 'fingerprint' | 'filename'>,
  a: ImageCopyOptions & { onProgress?: (relayed: number, total: number) => void; signal?: AbortSignal },
): Promise<Operation> {
  const project = source.project ? `?project=${seg(source.project)}` : '';
  const res = await openDownload(source, `/1.0/images/${seg(image.fingerprint)}/export${project}`, 'Image export');
  const total = Number(res.headers['content-length'] ?? 0);
  let relayed = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      relayed += chunk.length;
      a.onProgress?.(relayed, total);
      cb(null, chunk);
    },
  });
  res.on('error', (err) => counted.destroy(err));
  res.pipe(counted);
  // The export's own type (a split image's multipart boundary included) is what the upload takes.
  const headers: Record<string, string> = { 'Content-Type': String(res.headers['content-type'] ?? 'application/octet-stream') };
  if (total > 0) headers['Content-Length'] = String(total);
  if (image.filename) headers['X-Incus-filename'] = image.filename;
  if (a.public) headers['X-Incus-public'] = 'true';
  if (a.aliases.length > 0) headers['X-Incus-aliases'] = new URLSearchParams(a.aliases.map((x): [string, string] => ['alias', x.name])).toString();
  try {
    const env = await target.request('POST', '/1.0/images', { headers, body: counted, signal: a.signal });
    if (env.type !== 'async') throw new ApiError(0, `Expected an operation from POST /1.0/images, got a ${env.type} response`);
    const { Operation: Handle } = require('./operation') as typeof import('./operation');
    return new Handle(target, env.operation, target.project);
  } finally {
    // A refused upload leaves the download unread: close it.
    res.destroy();
  }
}
