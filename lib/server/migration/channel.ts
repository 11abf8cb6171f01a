/**
 * One migration websocket as Incus uses it: binary frames carry data (or,
 * on `control`, one protobuf message each) and an empty text frame is a
 * barrier that ends one stream, so that several streams (index header,
 * each snapshot, the volume) follow each other on the same socket, in
 * both directions at once.
 */
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { canReceiveDirectly, receiveDirectly } from './frame-receiver';
import { sendFdAsFrames } from './frame-sender';

type Frame = Buffer | 'barrier';

/** Frames queued unread before the socket stops reading. */
const MAX_QUEUED = 64;
/** Bytes buffered for sending before a writer waits. */
const HIGH_WATER = 4 * 1024 * 1024;

export class MigrationChannel {
  private readonly frames: Frame[] = [];
  private wake: (() => void) | null = null;
  private ended: Error | null = null;

  constructor(
    readonly name: string,
    readonly ws: WebSocket,
    /** We dialed it: frames we send must be masked. */
    private readonly isClient = false,
  ) {
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      this.frames.push(isBinary ? b : 'barrier');
      if (this.frames.length >= MAX_QUEUED && !ws.isPaused) ws.pause();
      this.notify();
    });
    ws.once('close', () => this.end(new Error(`Migration "${name}" connection closed`)));
    ws.once('error', (err) => this.end(new Error(`Migration "${name}" connection failed: ${err.message}`)));
  }

  private end(err: Error): void {
    if (!this.ended) this.ended = err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The next frame; rejects once the socket is gone and nothing is left. */
  private async next(): Promise<Frame> {
    for (;;) {
      const f = this.frames.shift();
      if (f !== undefined) {
        if (this.frames.length < MAX_QUEUED / 2 && this.ws.isPaused) this.ws.resume();
        return f;
      }
      if (this.ended) throw this.ended;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The next binary message (a protobuf on `control`); barriers between messages are skipped. */
  async readMessage(): Promise<Buffer> {
    for (;;) {
      const f = await this.next();
      if (f !== 'barrier') return f;
    }
  }

  /** Everything up to the next barrier, as one buffer (the index header). */
  async readAll(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let f = await this.next(); f !== 'barrier'; f = await this.next()) parts.push(f);
    return Buffer.concat(parts);
  }

  /** Writes what arrives up to the next barrier into `dst` (left open); resolves with the byte count. */
  async pipeTo(dst: Writable, onBytes?: (n: number) => void): Promise<number> {
    let total = 0;
    const count = (n: number): void => {
      total += n;
      onBytes?.(n);
    };
    for (;;) {
      // Once the queued messages are written, the frames that follow go straight from the socket to dst.
      if (this.frames.length === 0 && !this.ended && canReceiveDirectly(this.ws)) {
        const how = await receiveDirectly(this.ws, dst, count).catch((err: Error) => {
          throw this.ended ?? new Error(`Migration "${this.name}" connection failed: ${err.message}`);
        });
        if (how === 'barrier') return total;
      }
      const f = await this.next();
      if (f === 'barrier') return total;
      count(f.length);
      // A destination that died (rsync exited) still has its stream drained to the barrier.
      if (dst.destroyed || dst.writableEnded) continue;
      if (!dst.write(f)) await Promise.race([once(dst, 'drain'), once(dst, 'close')]);
    }
  }

  /** Sends `src` as binary frames, then a barrier; resolves with the byte count. */
  async pipeFrom(src: Readable, onBytes?: (n: number) => void): Promise<number> {
    let total = 0;
    for await (const chunk of src) {
      const b = chunk as Buffer;
      total += b.length;
      onBytes?.(b.length);
      await this.send(b);
    }
    this.barrier();
    return total;
  }

  /** Sends what fd `fd` yields (closing it at the end) as large binary frames, then a barrier; resolves with the byte count. */
  async pipeFromFd(fd: number, onBytes?: (n: number) => void): Promise<number> {
    if (this.ended) {
      closeSync(fd);
      throw this.ended;
    }
    const total = await sendFdAsFrames(fd, this.ws, this.isClient, onBytes);
    this.barrier();
    return total;
  }

  /** Sends one binary frame, waiting while too much is buffered. */
  async send(buf: Buffer): Promise<void> {
    if (this.ended) throw this.ended;
    if (this.ws.bufferedAmount <= HIGH_WATER) {
      this.ws.send(buf, { binary: true });
      return;
    }
    // Its callback runs once this frame (so all before it) has reached the socket.
    await new Promise<void>((resolve, reject) => this.ws.send(buf, { binary: true }, (err) => (err ? reject(err) : resolve())));
  }

  /** Ends one stream (an empty text frame). */
  barrier(): void {
    if (!this.ended) this.ws.send('', { binary: false });
  }

  /** Closes the socket (normal closure). */
  close(): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(1000);
    this.end(new Error(`Migration "${this.name}" connection closed`));
  }

  /** Drops the socket at once (a failed migration). */
  terminate(): void {
    this.ws.terminate();
    this.end(new Error(`Migration "${this.name}" connection closed`));
  }
}
