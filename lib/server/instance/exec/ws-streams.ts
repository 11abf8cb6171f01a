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

  /**
   * For output left open by background processes once the command has
   * exited: ends the stream after `idleMs` without data, or after `maxMs`
   * at most (Incus stops reading such output within a second).
   */
  finishWhenIdle(idleMs: number, maxMs: number): void {
    if (this.finished) return;
    let idle = setTimeout(() => this.finish(), idleMs);
    const cap = setTimeout(() => this.finish(), maxMs);
    const onData = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => this.finish(), idleMs);
    };
    this.src.on('data', onData);
    void this.done.then(() => {
      clearTimeout(idle);
      clearTimeout(cap);
      this.src.off('data', onData);
    });
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
 * Copies binary frames from `ws` into a destination until a barrier, a
 * close or a drop; `done` resolves then. Created as soon as the websocket
 * is connected, since clients send stdin before the command exists: frames
 * are queued (the websocket paused past a bound) until {@link pipeTo}. The
 * websocket is also paused while the destination is backed up. The
 * destination is left open: the caller decides how to end it.
 */
export class WsReceiver {
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private dst: Writable | null = null;
  private readonly queued: Buffer[] = [];
  private queuedBytes = 0;
  private eof = false;
  private ended = false;

  constructor(private readonly ws: WebSocket) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (this.eof) return;
      if (!isBinary) {
        this.atEof();
        return;
      }
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (b.length === 0) return;
      if (this.dst) {
        this.write(b);
        return;
      }
      this.queued.push(b);
      this.queuedBytes += b.length;
      if (this.queuedBytes >= HIGH_WATER && !ws.isPaused) ws.pause();
    });
    ws.once('close', () => this.atEof());
  }

  /** Starts delivering into `dst` (what was queued first). */
  pipeTo(dst: Writable): void {
    this.dst = dst;
    dst.once('error', () => this.finish());
    for (const b of this.queued.splice(0)) this.write(b);
    this.queuedBytes = 0;
    if (this.eof) this.finish();
    else if (this.ws.isPaused && dst.writableNeedDrain !== true) this.ws.resume();
  }

  private write(b: Buffer): void {
    const dst = this.dst as Writable;
    if (this.ended || dst.destroyed) return;
    if (!dst.write(b) && !this.ws.isPaused) {
      this.ws.pause();
      dst.once('drain', () => {
        if (!this.ended) this.ws.resume();
      });
    }
  }

  private atEof(): void {
    if (this.eof) return;
    this.eof = true;
    if (this.dst) this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws.isPaused) this.ws.resume();
    this.resolveDone();
  }
}
