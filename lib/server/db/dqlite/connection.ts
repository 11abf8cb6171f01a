/**
 * One client connection to a dqlite node over any Duplex (a TLS socket, a
 * local unix socket): the protocol handshake, then strictly one request at a
 * time, each answered by one response (or, for a query, by ROWS responses
 * until the last batch). Callers serialize with {@link Mutex}; this class
 * only frames bytes, times out and turns FAILURE into a DqliteError.
 */
import type { Duplex } from 'node:stream';
import { DqliteError } from './errors';
import { decodeFailure, decodeHeader, HEADER_SIZE, PROTOCOL_VERSION, Response, type Frame } from './protocol';

/** Responses larger than this are refused (a guard against a corrupt length). */
const MAX_BODY = 512 * 1024 * 1024;

export class Connection {
  private buffered: Buffer[] = [];
  private size = 0;
  private frames: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private failure: DqliteError | null = null;

  private constructor(
    private readonly stream: Duplex,
    /** The address this connection was dialled to. */
    readonly address: string,
    private readonly timeoutMs: number,
  ) {
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => this.fail(new DqliteError(`connection to ${address} failed: ${err.message}`, 'ECONNLOST')));
    stream.on('close', () => this.fail(new DqliteError(`connection to ${address} closed`, 'ECONNLOST')));
    stream.on('end', () => this.fail(new DqliteError(`connection to ${address} closed by the server`, 'ECONNLOST')));
  }

  /** Sends the protocol version on stream and returns the connection. */
  static open(stream: Duplex, address: string, timeoutMs: number): Connection {
    const c = new Connection(stream, address, timeoutMs);
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(PROTOCOL_VERSION);
    c.write(v);
    return c;
  }

  /** Whether the connection is unusable (closed, failed or timed out). */
  get broken(): boolean {
    return this.failure !== null;
  }

  /** Sends one request and reads its response; a FAILURE response is thrown as a DqliteError. */
  async call(message: Buffer, expect: number): Promise<Frame> {
    if (this.failure) {
      const err = new DqliteError(this.failure.message, this.failure.code);
      err.notSent = true;
      throw err;
    }
    this.write(message);
    return this.read(expect);
  }

  /** Reads the next response without sending anything (the next batch of rows). */
  read(expect: number): Promise<Frame> {
    return this.readFrame().then((f) => {
      if (f.type === Response.Failure) {
        const { code, message } = decodeFailure(f.body);
        throw DqliteError.fromFailure(code, message);
      }
      if (f.type !== expect) {
        const err = new DqliteError(`unexpected response type ${f.type} (wanted ${expect}) from ${this.address}`, 'EPROTO');
        this.fail(err);
        throw err;
      }
      return f;
    });
  }

  /** Closes the connection; pending and later calls fail with ECONNLOST. */
  close(): void {
    this.fail(new DqliteError(`connection to ${this.address} closed`, 'ECONNLOST'));
  }

  private write(buf: Buffer): void {
    this.stream.write(buf, (err) => {
      if (err) this.fail(new DqliteError(`cannot write to ${this.address}: ${err.message}`, 'ECONNLOST'));
    });
  }

  private readFrame(): Promise<Frame> {
    const ready = this.frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new DqliteError('dqlite: concurrent reads on one connection', 'EPROTO'));
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new DqliteError(`no answer from ${this.address} within ${this.timeoutMs} ms`, 'ETIMEDOUT'));
      }, this.timeoutMs);
      this.waiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.size < HEADER_SIZE) return;
      let buf = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
      const h = decodeHeader(buf);
      if (h.size > MAX_BODY) {
        this.fail(new DqliteError(`response of ${h.size} bytes from ${this.address} is too large`, 'EPROTO'));
        return;
      }
      if (buf.length < HEADER_SIZE + h.size) {
        this.buffered = [buf];
        return;
      }
      const frame: Frame = { type: h.type, schema: h.schema, body: buf.subarray(HEADER_SIZE, HEADER_SIZE + h.size) };
      buf = buf.subarray(HEADER_SIZE + h.size);
      this.buffered = buf.length ? [buf] : [];
      this.size = buf.length;
      const w = this.waiter;
      if (w) {
        this.waiter = null;
        w.resolve(frame);
      } else {
        this.frames.push(frame);
      }
    }
  }

  private fail(err: DqliteError): void {
    if (this.failure) return;
    this.failure = err;
    this.frames = [];
    const w = this.waiter;
    this.waiter = null;
    this.stream.destroy();
    if (w) w.reject(err);
  }
}

/** A FIFO lock: run() calls never overlap. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
