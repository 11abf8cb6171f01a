/**
 * Ptys and pipes for exec: the addon creates them (close-on-exec from
 * birth), libuv reads them on the event loop (no pool thread is parked),
 * and writes to a pty master are non-blocking syscalls retried on a timer
 * when the terminal's input queue is full.
 */
import { fstatSync, readSync, writeSync } from 'node:fs';
import { Duplex } from 'node:stream';
import { ReadStream } from 'node:tty';
import { binding } from './addon';
import { NativeError } from './errors';

/** A pty pair: the master stays with the daemon, the slave goes to the command. */
export interface PtyPair {
  master: number;
  slave: number;
  /** N of /dev/pts/N in the devpts instance it came from. */
  index: number;
}

/** Where to take a pty from and who owns its slave. */
export interface OpenPtyOptions {
  /** A process whose /dev/pts is used (a container's init); 0 for the host's. */
  pid: number;
  /** Owner of the slave as the host sees it (-1: leave it). */
  uid: number;
  gid: number;
}

function checkId(op: string, what: string, v: unknown, min: number, max: number): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${op}: ${what} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
}

/** Opens a pty pair (see {@link OpenPtyOptions}); throws a NativeError on failure. */
export function openPty(opts: OpenPtyOptions): PtyPair {
  checkId('openpty', 'pid', opts.pid, 0, 4194304);
  checkId('openpty', 'uid', opts.uid, -1, 4294967294);
  checkId('openpty', 'gid', opts.gid, -1, 4294967294);
  try {
    return binding().openpty(opts.pid, opts.uid, opts.gid);
  } catch (err) {
    throw NativeError.from(err, { op: 'openpty' });
  }
}

/** Sets the window size of a pty (either side); the foreground process group gets SIGWINCH. */
export function setWindowSize(fd: number, cols: number, rows: number): void {
  checkId('setWindowSize', 'fd', fd, 0, 2147483647);
  checkId('setWindowSize', 'cols', cols, 1, 65535);
  checkId('setWindowSize', 'rows', rows, 1, 65535);
  try {
    binding().setWindowSize(fd, cols, rows);
  } catch (err) {
    throw NativeError.from(err, { op: 'setWindowSize' });
  }
}

/** A close-on-exec pipe: [readFd, writeFd]. */
export function makePipe(): [number, number] {
  try {
    return binding().makePipe();
  } catch (err) {
    throw NativeError.from(err, { op: 'makePipe' });
  }
}

/** Bytes per read from a pty master. */
const READ_CHUNK = 64 * 1024;
/** Longest wait between two tries of a write the pty refused (EAGAIN). */
const MAX_RETRY_MS = 50;

/**
 * A pty master as a Duplex that owns the fd. Reading ends when the last
 * slave fd is closed (the kernel's EIO becomes a plain end). Writes never
 * block the loop: the master is non-blocking, and a full input queue is
 * retried with a growing delay until the command reads it.
 */
export class PtyMaster extends Duplex {
  private readonly rs: ReadStream;
  private retryMs = 1;
  private timer: NodeJS.Timeout | undefined;

  /** What the master fd is, to recognise it later. */
  private readonly identity: { dev: number; ino: number; rdev: number };

  constructor(readonly fd: number) {
    super({ allowHalfOpen: true });
    const st = fstatSync(fd);
    this.identity = { dev: st.dev, ino: st.ino, rdev: st.rdev };
    // `onread` hands each read straight to us and makes pause() a real
    // read stop: nothing waits in the stream's own buffer, which the EIO at
    // the end of a pty would throw away.
    const onread = {
      buffer: Buffer.allocUnsafe(READ_CHUNK),
      callback: (n: number, buf: Buffer): boolean => {
        if (!this.push(Buffer.from(buf.subarray(0, n)))) this.rs.pause();
        return true;
      },
    };
    this.rs = new ReadStream(fd, { onread } as ConstructorParameters<typeof ReadStream>[1]);
    this.rs.on('end', () => {
      // libuv ends a tty stream on POLLHUP after a short read, while the
      // kernel may still hold output: take the rest before the fd closes.
      this.drain();
      this.push(null);
    });
    this.rs.on('error', (err: NodeJS.ErrnoException) => {
      // EIO: every slave fd is closed, the terminal is gone.
      if (err.code === 'EIO') this.push(null);
      else this.destroy(NativeError.from(err, { op: 'ptyRead' }));
    });
  }

  /** Reads what is left on the master until EIO (every slave closed) or EAGAIN. */
  private drain(): void {
    // Only while the fd still is our master (not closed, not reused).
    try {
      const st = fstatSync(this.fd);
      if (st.rdev !== this.identity.rdev || st.ino !== this.identity.ino || st.dev !== this.identity.dev) return;
    } catch {
      return;
    }
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, buf, 0, buf.length, null);
      } catch {
        return;
      }
      if (n <= 0) return;
      this.push(Buffer.from(buf.subarray(0, n)));
    }
  }

  /** Sets the terminal's window size. */
  resize(cols: number, rows: number): void {
    if (!this.destroyed) setWindowSize(this.fd, cols, rows);
  }

  override _read(): void {
    this.rs.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeFrom(chunk, 0, cb);
  }

  private writeFrom(chunk: Buffer, offset: number, cb: (err?: Error | null) => void): void {
    this.timer = undefined;
    if (this.destroyed) {
      cb();
      return;
    }
    try {
      while (offset < chunk.length) offset += writeSync(this.fd, chunk, offset);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EAGAIN') {
        this.timer = setTimeout(() => this.writeFrom(chunk, offset, cb), this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
        return;
      }
      // EIO: the terminal is gone; what was not written is dropped.
      cb(e.code === 'EIO' ? null : NativeError.from(e, { op: 'ptyWrite' }));
      return;
    }
    this.retryMs = 1;
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    // The tty handle owns the fd: libuv closes it.
    this.rs.destroy();
    cb(err);
  }
}
