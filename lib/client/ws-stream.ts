/**
 * Byte streams over operation websockets, as the Incus client carries
 * them: data in binary frames, end of stream as an empty text frame (a
 * "barrier"); a text frame, a close or a drop ends what is received.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import type WebSocket from 'ws';
import { parseEnvelope } from './envelope';
import { ApiError } from './errors';
import type { Transport } from './transport';

/** Bytes queued on a websocket before the source is paused. */
const HIGH_WATER = 1024 * 1024;

/**
 * Opens `/1.0/operations/{id}/websocket?secret=...`; resolves once open,
 * rejects with the server's error. `onOpen` runs inside the open event,
 * before any frame can be emitted: listeners added there miss nothing.
 * `connection`: one started by {@link Transport.preconnect} to use.
 */
export function openOperationSocket(
  transport: Transport,
  opId: string,
  secret: string,
  onOpen?: (ws: WebSocket) => void,
  connection?: Duplex,
): Promise<WebSocket> {
  const path = `/1.0/operations/${encodeURIComponent(opId)}/websocket?secret=${encodeURIComponent(secret)}`;
  const ws = transport.openWebSocket(path, connection);
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      onOpen?.(ws);
      resolve(ws);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req: unknown, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          parseEnvelope(
            { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) },
            `GET ${path}`,
          );
          reject(new ApiError(res.statusCode ?? 0, `Websocket upgrade refused by GET ${path}`));
        } catch (err) {
          reject(err as Error);
        }
        ws.terminate();
      });
    });
  });
}

/**
 * Sends `src` as binary frames, then the barrier when it ends. Returns a
 * function that stops sending (no barrier) and detaches from `src`.
 */
export function sendStream(ws: WebSocket, src: Readable): () => void {
  let queued = 0;
  let stopped = false;
  const onData = (b: Buffer | string): void => {
    if (stopped || ws.readyState !== ws.OPEN) return;
    const buf = typeof b === 'string' ? Buffer.from(b) : b;
    queued += buf.length;
    ws.send(buf, { binary: true }, () => {
      queued -= buf.length;
      if (queued < HIGH_WATER && src.isPaused() && !stopped) src.resume();
    });
    if (queued >= HIGH_WATER) src.pause();
  };
  const onEnd = (): void => {
    stop();
    if (ws.readyState === ws.OPEN) ws.send('', { binary: false });
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    src.off('data', onData);
    src.off('end', onEnd);
  };
  src.on('data', onData);
  src.once('end', onEnd);
  return stop;
}

/** Sends only the barrier: a stream with nothing in it. */
export function sendEmptyStream(ws: WebSocket): void {
  if (ws.readyState === ws.OPEN) ws.send('', { binary: false });
}

/**
 * Writes binary frames from `ws` into `dst` until the barrier, a close or a
 * drop; resolves then (`dst` is left open).
 */
export function receiveStream(ws: WebSocket, dst: Writable | null): Promise<void> {
  return new Promise((resolve) => {
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      ws.off('message', onMessage);
      if (ws.isPaused) ws.resume();
      resolve();
    };
    const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
      if (!isBinary) {
        end();
        return;
      }
      if (!dst) return;
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (b.length > 0 && !dst.write(b)) {
        ws.pause();
        dst.once('drain', () => ws.resume());
      }
    };
    ws.on('message', onMessage);
    ws.once('close', end);
    ws.once('error', end);
  });
}
