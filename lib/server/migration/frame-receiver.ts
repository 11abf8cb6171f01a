/**
 * The bulk half of receiving a migration stream: while a stream is being
 * written to rsync, the websocket's socket is read here instead of by `ws`'s
 * Receiver, and the payload of each binary (or continuation) frame goes to
 * the destination as slices of the chunks the socket delivered, which are
 * pooled buffers where the socket can read into them (read-tap.ts); the
 * TLS records of one event-loop turn lie back to back there and go out as
 * one write (a Node write per record cost the receiver more CPU). `ws`
 * would join each frame into a new buffer first (a copy, and garbage to
 * collect, of every byte). An empty text frame (the barrier) ends the stream and
 * gives the socket back to `ws`; pings are answered here; any other frame
 * (close, a text message) is handed back to `ws` with the bytes after it.
 * Only entered between frames, with nothing buffered by `ws`.
 */
import type { Duplex, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import { socketOf } from './frame-sender';
import { ReadTap, type PoolChunk } from './read-tap';

/** `ws`'s Receiver, as far as entering and leaving the fast path needs it. */
interface WsReceiver {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
}

function receiverOf(ws: WebSocket): WsReceiver | undefined {
  return (ws as unknown as { _receiver?: WsReceiver })._receiver;
}

/** Whether `ws` sits between frames with nothing buffered, so that its socket can be read here. */
export function canReceiveDirectly(ws: WebSocket): boolean {
  const r = receiverOf(ws);
  return ws.readyState === ws.OPEN && !!r && r._state === 0 && r._bufferedBytes === 0 && r._fragmented === 0;
}

/** XORs `len` bytes of `buf` from `offset` with `mask`, starting at mask byte `phase`. */
export function unmask(buf: Buffer, offset: number, len: number, mask: Buffer, phase: number): void {
  let i = 0;
  // Bytes up to a 4-byte boundary, then whole words, then the rest.
  while (i < len && (buf.byteOffset + offset + i) % 4 !== 0) {
    buf[offset + i] ^= mask[(phase + i) & 3];
    i++;
  }
  const words = (len - i) >>> 2;
  if (words > 0) {
    const p = phase + i;
    const m = new Uint32Array(new Uint8Array([mask[p & 3], mask[(p + 1) & 3], mask[(p + 2) & 3], mask[(p + 3) & 3]]).buffer)[0];
    const w = new Uint32Array(buf.buffer, buf.byteOffset + offset + i, words);
    for (let k = 0; k < words; k++) w[k] ^= m;
    i += words * 4;
  }
  for (; i < len; i++) buf[offset + i] ^= mask[(phase + i) & 3];
}

/** How a direct receive ended: at the barrier, or handed back to `ws` at a frame it must see. */
export type DirectEnd = 'barrier' | 'handed-back';

/** Bytes written to the destination and not yet out before the socket stops reading. */
const WRITE_HIGH = 4 * 1024 * 1024;
/** ...and where it reads again. */
const WRITE_LOW = 1024 * 1024;

/**
 * Writes the payload of the frames arriving on `ws`'s socket to `dst`
 * (dropping it once `dst` is gone) until a barrier or a frame for `ws`;
 * reading pauses while more than {@link WRITE_HIGH} bytes wait to go out.
 * Where the socket allows it (see read-tap.ts), frames are read into
 * pooled buffers and their payload written from there. Rejects when the
 * socket closes.
 */
export function receiveDirectly(ws: WebSocket, dst: Writable, onBytes: (n: number) => void): Promise<DirectEnd> {
  const sock: Duplex = socketOf(ws);
  const tap = ReadTap.of(sock);
  const wsListeners = tap ? [] : (sock.listeners('data') as ((b: Buffer) => void)[]);
  const head = Buffer.alloc(14);
  let headLen = 0;
  /** Payload bytes left in the current frame; -1 while reading a header. */
  let left = -1;
  let opcode = 0;
  let mask: Buffer | null = null;
  let phase = 0;
  let control: Buffer[] = [];
  /** Payload parsed this event-loop turn and not yet written: one run of contiguous memory, holding its chunk. */
  let run: Buffer | null = null;
  let runLen = 0;
  let runChunk: PoolChunk | null = null;
  let flushing = false;
  let waiting = false;
  let done = false;
  /** The pooled chunk the data being parsed lies in (null: a buffer of its own). */
  let inChunk: PoolChunk | null = null;
  /** Writes not yet out, in order: the chunk each came from and its length. */
  const inFlight: { chunk: PoolChunk | null; len: number }[] = [];
  let inFlightHead = 0;
  let queued = 0;

  return new Promise<DirectEnd>((resolve, reject) => {
    const finish = (how: DirectEnd | Error, rest?: Buffer): void => {
      done = true;
      if (tap) tap.setSink(null);
      else {
        sock.off('data', onData);
        for (const l of wsListeners) sock.on('data', l);
      }
      sock.off('close', onClose);
      if (how instanceof Error) {
        dropRun();
        return reject(how);
      }
      writeRun();
      if (sock.isPaused()) sock.resume();
      // The bytes after this stream are ws's: as a 'data' event, as the socket would have delivered them.
      if (rest && rest.length > 0) sock.emit('data', inChunk ? Buffer.from(rest) : rest);
      resolve(how);
    };
    const alive = (): boolean => !dst.destroyed && !dst.writableEnded;
    const onClose = (): void => finish(new Error('websocket closed'));
    // Write callbacks come in write order: each one retires the oldest write.
    const onWritten = (): void => {
      const w = inFlight[inFlightHead++]!;
      if (inFlightHead === inFlight.length) {
        inFlight.length = 0;
        inFlightHead = 0;
      }
      queued -= w.len;
      if (w.chunk) tap!.release(w.chunk);
      if (waiting && queued <= WRITE_LOW) {
        waiting = false;
        if (!done) sock.resume();
      }
    };
    const dropRun = (): void => {
      if (runChunk) tap!.release(runChunk);
      run = null;
      runChunk = null;
    };
    /** Writes the run: one write for the TLS records of a turn, which lie back to back in a pooled chunk. */
    const writeRun = (): void => {
      if (!run) return;
      if (!alive()) return dropRun();
      const b = runLen === run.length ? run : Buffer.from(run.buffer, run.byteOffset, runLen);
      inFlight.push({ chunk: runChunk, len: runLen });
      queued += runLen;
      run = null;
      runChunk = null;
      dst.write(b, onWritten);
      if (queued > WRITE_HIGH && !waiting) {
        waiting = true;
        sock.pause();
      }
    };
    const flush = (): void => {
      flushing = false;
      if (!done) writeRun();
    };
    const put = (b: Buffer): void => {
      onBytes(b.length);
      if (!alive()) return;
      if (run && run.buffer === b.buffer && run.byteOffset + runLen === b.byteOffset) {
        runLen += b.length;
        return;
      }
      writeRun();
      run = b;
      runLen = b.length;
      // The run holds its chunk from now: the pool must not hand it out again before the write.
      runChunk = inChunk;
      if (runChunk) runChunk.refs++;
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
    };
    /** A complete header is in `head`: the frame it opens, or the end of this receive. */
    const onHeader = (chunk: Buffer, next: number): boolean => {
      const b0 = head[0];
      const b1 = head[1];
      opcode = b0 & 0x0f;
      const fin = (b0 & 0x80) !== 0;
      let len = b1 & 0x7f;
      let at = 2;
      if (len === 126) {
        len = head.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        len = head.readUInt32BE(2) * 2 ** 32 + head.readUInt32BE(6);
        at = 10;
      }
      mask = b1 & 0x80 ? head.subarray(at, at + 4) : null;
      phase = 0;
      left = len;
      const data = opcode === 0 || opcode === 2;
      const ping = (opcode === 9 || opcode === 10) && fin && len <= 125;
      if ((b0 & 0x70) !== 0 || !(data || ping || (opcode === 1 && fin && len === 0))) {
        // Not ours to judge: ws sees the frame from its first byte.
        finish('handed-back', Buffer.concat([head.subarray(0, headLen), chunk.subarray(next)]));
        return false;
      }
      if (opcode === 1) {
        finish('barrier', chunk.subarray(next));
        return false;
      }
      control = [];
      return true;
    };
    const onData = (chunk: Buffer): void => {
      let i = 0;
      while (i < chunk.length && !done) {
        if (left < 0) {
          // Header: 2 bytes, then as many more as they announce.
          head[headLen++] = chunk[i++];
          if (headLen < 2) continue;
          const b1 = head[1];
          const want = 2 + ((b1 & 0x7f) === 126 ? 2 : (b1 & 0x7f) === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
          if (headLen < want) continue;
          if (!onHeader(chunk, i)) return;
          headLen = 0;
          if (left > 0) continue;
        }
        const n = Math.min(left, chunk.length - i);
        if (n > 0) {
          const piece = chunk.subarray(i, i + n);
          if (mask) unmask(chunk, i, n, mask, phase);
          phase = (phase + n) & 3;
          if (opcode === 0 || opcode === 2) put(piece);
          else control.push(Buffer.from(piece));
          i += n;
          left -= n;
        }
        if (left === 0) {
          if (opcode === 9) ws.pong(Buffer.concat(control));
          left = -1;
        }
      }
    };
    if (tap) {
      tap.setSink((data, chunk) => {
        inChunk = chunk;
        onData(data);
      });
    } else {
      for (const l of wsListeners) sock.off('data', l);
      sock.on('data', onData);
    }
    sock.once('close', onClose);
    if (sock.isPaused()) sock.resume();
  });
}
