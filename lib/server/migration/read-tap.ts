/**
 * A socket switched, mid-stream, to reading into buffers we own (Node's
 * `onread` user-buffer mode, as `net.connect({ onread })` sets it up at
 * birth). Node's default read path allocates a fresh buffer for every read,
 * and over TLS that is one per 16 KiB record: here that garbage and the
 * stream machinery cost a receiver more than twice the CPU of reading into
 * reused memory (bench: migration). While a sink is set, reads land in
 * large pooled chunks and the sink gets views of them, holding a chunk
 * (`refs`) until what it wrote from it is out; otherwise each read is
 * copied and emitted as an ordinary `'data'` event, so that `ws` and any
 * other listener see the socket as before. Once switched, a socket stays
 * so: Node has no way back.
 */
import type { Duplex } from 'node:stream';

/** One pooled read buffer; reused once nothing refers to it. */
export interface PoolChunk {
  readonly buf: Buffer;
  /** Views of it not yet done with (writes in flight). */
  refs: number;
}

/** Receives one read: a view of a pooled chunk (`chunk` set), or an owned copy (`chunk` null). */
export type ReadSink = (data: Buffer, chunk: PoolChunk | null) => void;

/** Size of a pooled chunk: a few dozen TLS records, or several socket reads. */
const CHUNK_SIZE = 1024 * 1024;
/** Room a read is offered at least (a TLS record is at most 16 KiB; a TCP read takes what fits). */
const MIN_ROOM = 64 * 1024;
/** The buffer reads land in while no sink is set (copied out at once). */
const SPARE_SIZE = 64 * 1024;

/** Hands out read regions from reused chunks, front to back. */
class ReadPool {
  private cur: PoolChunk = { buf: Buffer.allocUnsafe(CHUNK_SIZE), refs: 0 };
  private off = 0;
  private readonly free: PoolChunk[] = [];
  private handed: Buffer | null = null;

  /** Where the next read goes. */
  region(): Buffer {
    if (CHUNK_SIZE - this.off < MIN_ROOM) {
      const old = this.cur;
      this.cur = this.free.pop() ?? { buf: Buffer.allocUnsafe(CHUNK_SIZE), refs: 0 };
      this.off = 0;
      if (old.refs === 0) this.free.push(old);
    }
    this.handed = this.cur.buf.subarray(this.off);
    return this.handed;
  }

  /** The chunk holding `n` bytes just read into `region`, now taken; null if `region` is not ours. */
  claim(region: Buffer, n: number): PoolChunk | null {
    if (region !== this.handed) return null;
    this.handed = null;
    this.off += n;
    return this.cur;
  }

  /** One view of `c` is done with. */
  release(c: PoolChunk): void {
    if (--c.refs === 0 && c !== this.cur) this.free.push(c);
  }
}

/** Node's private slots for user-buffer reads on a net.Socket (net.js: kBuffer, kBufferCb, kBufferGen). */
interface Slots {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}

function slotsOf(sock: Duplex): Slots | null {
  const bySymbol = new Map(Object.getOwnPropertySymbols(sock).map((s) => [s.description, s]));
  const buffer = bySymbol.get('kBuffer');
  const callback = bySymbol.get('kBufferCb');
  const generator = bySymbol.get('kBufferGen');
  return buffer && callback && generator ? { buffer, callback, generator } : null;
}

export class ReadTap {
  private sink: ReadSink | null = null;
  private readonly pool = new ReadPool();
  private readonly spare = Buffer.allocUnsafe(SPARE_SIZE);

  private constructor(private readonly sock: Duplex) {}

  /** Routes reads to `sink` (null: back to `'data'` events). */
  setSink(sink: ReadSink | null): void {
    this.sink = sink;
  }

  /** `chunk`'s view is done with. */
  release(chunk: PoolChunk): void {
    this.pool.release(chunk);
  }

  private onRead(n: number, region: Buffer): void {
    const sink = this.sink;
    if (!sink) {
      this.sock.emit('data', Buffer.from(region.subarray(0, n)));
      return;
    }
    const chunk = this.pool.claim(region, n);
    sink(chunk ? region.subarray(0, n) : Buffer.from(region.subarray(0, n)), chunk);
  }

  private nextRegion(): Buffer {
    return this.sink ? this.pool.region() : this.spare;
  }

  private static readonly taps = new WeakMap<Duplex, ReadTap>();

  /**
   * The tap on `sock`, switched on now if need be; null where it cannot be:
   * a socket without a stream handle, a Node without the private slots, or
   * data already buffered in the socket (it would come after newer reads).
   */
  static of(sock: Duplex): ReadTap | null {
    const known = ReadTap.taps.get(sock);
    if (known) return known;
    const handle = (sock as unknown as { _handle?: { useUserBuffer?: (b: Buffer) => void } })._handle;
    const slots = slotsOf(sock);
    if (!handle || typeof handle.useUserBuffer !== 'function' || !slots || sock.readableLength > 0 || sock.destroyed) return null;
    const tap = new ReadTap(sock);
    const s = sock as unknown as Record<symbol, unknown>;
    s[slots.callback] = (n: number, region: Buffer): void => tap.onRead(n, region);
    s[slots.generator] = (): Buffer => tap.nextRegion();
    s[slots.buffer] = tap.spare;
    handle.useUserBuffer(tap.spare);
    ReadTap.taps.set(sock, tap);
    return tap;
  }
}
