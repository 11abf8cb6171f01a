/**
 * Byte streams over websockets as Incus carries them: data in binary
 * frames; the end of a stream is an empty text frame (a "barrier") from
 * the sending side, and a text frame, a close frame or a dropped connection
 * ends the stream on the receiving side. The websocket itself stays open
 * after a barrier.
 */
import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';

/** Bytes queued on a websocket before the source is paused. */
const HIGH_WATER = 1024 * 1024;

/** True while `ws` can still take frames. */
export function wsOpen(ws: WebSocket): boolean {
  return ws.readyState === ws.OPEN;
}

/**
 * Copies `src` into `ws` as binary frames and sends the barrier when `src`
 * ends (or `finish()` is called). Resolves once the barrier is queued or the
 * websocket has gone; pauses `src` while the websocket is backed up.
 */
export class WsSender {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private queued = 0;
  private finished = false;

  constructor(private readonly ws: WebSocket, private readonly src: Readable) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    src.on('data', (b: Buffer) => this.send(b));
    src.once('end', () => this.finish());
    src.once('error', () => this.finish());
    src.once('close', () => this.finish());
    ws.once('close', () => this.finish());
  }

  private send(b: Buffer): void {
    if (this.finished || !wsOpen(this.ws)) return;
    this.queued += b.length;
    this.ws.send(b, { binary: true }, () => {
      this.queued -= b.length;
      if (this.queued < HIGH_WATER && this.src.isPaused()) this.src.resume();
    });
    if (this.queued >= HIGH_WATER) this.src.pause();
  }

  /** Ends the stream now: the barrier goes out, later data is dropped. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.src.removeAllListeners('data');
    if (wsOpen(this.ws)) this.ws.send('', { binary: false }, () => this.resolveDone());
    else this.resolveDone();
  }
}

/**
 * Copies binary frames from `ws` into `dst` until a barrier, a close or a
 * drop; `done` resolves then. The websocket is paused while `dst` is
 * backed up. `dst` is left open: the caller decides how to end it.
 */
export class WsReceiver {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private ended = false;

  constructor(private readonly ws: WebSocket, private readonly dst: Writable) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (this.ended) return;
      if (!isBinary) {
        this.end();
        return;
      }
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (b.length === 0 || dst.destroyed) return;
      if (!dst.write(b)) {
        ws.pause();
        dst.once('drain', () => ws.resume());
      }
    });
    ws.once('close', () => this.end());
    dst.once('error', () => this.end());
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws.isPaused) this.ws.resume();
    this.resolveDone();
  }
}
