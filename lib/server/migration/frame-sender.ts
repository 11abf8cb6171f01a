/**
 * The bulk half of a migration stream: reads a socket (rsync's end, handed
 * over by `incusd-helper netcat --pass-fds`) straight into the payload of
 * the frame being filled (Node's `onread` with a buffer per read) and
 * writes it to the websocket's own socket as binary frames of up to
 * {@link FRAME_PAYLOAD_MAX} bytes, built in place in a small pool of frame
 * buffers, which are reused once written. A relay of a few hundred MiB then
 * allocates nothing per frame (no garbage to collect), and sends frames of
 * a quarter to half a MiB, each one TLS write, instead of thousands of
 * small ones. The bytes on the wire are ordinary RFC 6455 frames, masked
 * when we are the websocket's client, as Incus expects them.
 */
import { randomFillSync } from 'node:crypto';
import { Socket, type ConnectOpts, type SocketConstructorOpts } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';

/** Largest payload of one frame. */
export const FRAME_PAYLOAD_MAX = 512 * 1024;
/**
 * A frame goes once it holds this much, so that the receiver starts on it
 * while the next one fills (the bench ran faster than with 1 MiB frames),
 * and every read is offered at least the rest of the buffer.
 */
const FLUSH_AT = 256 * 1024;
/** Where a read lands while every frame buffer is out. */
const SPARE_SIZE = 64 * 1024;
/** Frame buffers per stream: the memory a slow receiver can pin is this many frames. */
const POOL_SIZE = 4;
/** Room before the payload: 2 + 8 length bytes + 4 mask bytes, rounded up so the payload is 4-byte aligned for masking. */
const HEAD_ROOM = 16;
/** How long a partly filled frame waits for more before it goes (a burst's tail, rsync's round trips). */
const FLUSH_DELAY_MS = 1;

/** The socket under a `ws` WebSocket (ws keeps it as `_socket`; no public accessor). */
export function socketOf(ws: WebSocket): Duplex {
  const s = (ws as unknown as { _socket?: Duplex })._socket;
  if (!s) throw new Error('websocket has no socket');
  return s;
}

/** Writes the header of a final binary frame carrying `len` bytes so that it ends at `end`; returns where it starts. */
export function writeBinaryHeader(buf: Buffer, end: number, len: number, mask: Buffer | null): number {
  const maskLen = mask ? 4 : 0;
  const extLen = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const start = end - 2 - extLen - maskLen;
  buf[start] = 0x82; // FIN + opcode 2 (binary)
  buf[start + 1] = (mask ? 0x80 : 0) | (extLen === 0 ? len : extLen === 2 ? 126 : 127);
  if (extLen === 2) buf.writeUInt16BE(len, start + 2);
  else if (extLen === 8) {
    buf.writeUInt32BE(Math.floor(len / 2 ** 32), start + 2);
    buf.writeUInt32BE(len >>> 0, start + 6);
  }
  if (mask) mask.copy(buf, end - 4);
  return start;
}

/** XORs `len` bytes at `offset` (4-byte aligned in its ArrayBuffer) with the 4-byte `mask`, in place. */
export function maskInPlace(buf: Buffer, offset: number, len: number, mask: Buffer): void {
  const abs = buf.byteOffset + offset;
  const words = len >>> 2;
  if (abs % 4 === 0 && words > 0) {
    const w = new Uint32Array(buf.buffer, abs, words);
    // Bytes m0..m3 over one aligned little- or big-endian word, read back the way the platform stores it.
    const m = new Uint32Array(new Uint8Array([mask[0], mask[1], mask[2], mask[3]]).buffer)[0];
    for (let i = 0; i < words; i++) w[i] ^= m;
    for (let i = words * 4; i < len; i++) buf[offset + i] ^= mask[i & 3];
    return;
  }
  for (let i = 0; i < len; i++) buf[offset + i] ^= mask[i & 3];
}

/**
 * Sends everything readable on `fd` (a stream socket or pipe; closed at the
 * end) over `ws` as binary frames; resolves with the byte count at end of
 * stream, once every frame has been written. The caller sends the barrier.
 * Reading stops while every frame buffer is being written (a slow peer).
 */
export function sendFdAsFrames(fd: number, ws: WebSocket, masked: boolean, onBytes?: (n: number) => void): Promise<number> {
  const out = socketOf(ws);
  const free: Buffer[] = [];
  let made = 0;
  let cur: Buffer | null = null;
  let fill = 0;
  let inFlight = 0;
  let total = 0;
  let ended = false;
  let failed = false;
  let timer: NodeJS.Timeout | null = null;
  const mask = masked ? Buffer.alloc(4) : null;

  return new Promise<number>((resolve, reject) => {
    const take = (): Buffer | null => {
      const b = free.pop();
      if (b) return b;
      if (made >= POOL_SIZE) return null;
      made++;
      return Buffer.allocUnsafe(HEAD_ROOM + FRAME_PAYLOAD_MAX);
    };
    const stopTimer = (): void => {
      if (timer) clearTimeout(timer);
      timer = null;
    };
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      stopTimer();
      out.off('close', onClose);
      src.destroy();
      reject(err);
    };
    const onClose = (): void => fail(new Error('websocket closed'));
    const settle = (): void => {
      if (!ended || failed || inFlight > 0 || fill > 0) return;
      out.off('close', onClose);
      resolve(total);
    };
    const flush = (): void => {
      stopTimer();
      if (!cur || fill === 0 || failed) return;
      if (ws.readyState !== ws.OPEN) return fail(new Error('websocket closed'));
      const buf = cur;
      const len = fill;
      fill = 0;
      if (mask) {
        randomFillSync(mask);
        maskInPlace(buf, HEAD_ROOM, len, mask);
      }
      const start = writeBinaryHeader(buf, HEAD_ROOM, len, mask);
      inFlight++;
      out.write(buf.subarray(start, HEAD_ROOM + len), (err) => {
        inFlight--;
        if (err) return fail(err);
        if (cur) free.push(buf);
        else {
          cur = buf;
          if (!ended) src.resume();
        }
        settle();
      });
      cur = take();
      // Every frame buffer is on its way: stop reading until one comes back.
      if (!cur && !ended) src.pause();
    };
    /**
     * Node reads into whatever nextRoom last returned: the free end of `cur`
     * as it was then, or `spare` while every frame was out. A flush by the
     * timer moves `cur` on after the offer, so the read that follows lands
     * in a stale place and is copied; every other read lands in place.
     */
    let offeredIn: Buffer | null = null;
    let offeredAt = 0;
    const spare = Buffer.allocUnsafe(SPARE_SIZE);
    const nextRoom = (): Buffer => {
      offeredIn = cur;
      offeredAt = fill;
      return cur ? cur.subarray(HEAD_ROOM + fill, HEAD_ROOM + FRAME_PAYLOAD_MAX) : spare;
    };
    const onread = (n: number, region: Buffer): boolean => {
      total += n;
      onBytes?.(n);
      if (offeredIn === null || offeredIn !== cur || offeredAt !== fill) {
        // Not in place: copied into the current frame, or into one beyond the pool if every frame is out.
        cur ??= Buffer.allocUnsafe(HEAD_ROOM + FRAME_PAYLOAD_MAX);
        region.copy(cur, HEAD_ROOM + fill, 0, n);
      }
      fill += n;
      if (fill >= FLUSH_AT) flush();
      else if (!timer) timer = setTimeout(flush, FLUSH_DELAY_MS);
      return true;
    };
    cur = take();
    // Node takes onread in the constructor too (its typings list it only for connect()); a function as
    // buffer is asked for the room of each next read.
    const opts = { fd, readable: true, writable: false, allowHalfOpen: true, onread: { buffer: nextRoom, callback: onread } };
    const src = new Socket(opts as unknown as SocketConstructorOpts & ConnectOpts);
    src.on('error', fail);
    src.once('end', () => {
      ended = true;
      flush();
      settle();
      src.destroy();
    });
    out.once('close', onClose);
    src.resume();
  });
}
