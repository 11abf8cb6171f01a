/**
 * The container console through the addon: a proxy pty that the monitor
 * bridges to the container's /dev/console (read and written by libuv on the
 * event loop, no pool thread parked), and the console ring buffer.
 */
import { closeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { binding } from './addon';
import { NativeError, wrapNative } from './errors';
import type { LxcHandle } from './lxc';
import { checkName, checkPath } from './validate';

function checkHandle(op: string, ref: LxcHandle): void {
  checkName(op, ref?.name);
  checkPath(op, 'lxcpath', ref.lxcpath);
}

/**
 * One attachment to a container's console. `stream` carries the console's
 * bytes both ways; it ends when the console goes away (container stopped)
 * or after {@link close}. Only one ConsolePty per container can exist at a
 * time: liblxc refuses a second until the first is closed.
 */
export class ConsolePty {
  /** The pty master as a Duplex (a libuv tty handle in non-blocking mode). */
  readonly stream: ReadStream;
  /** Settles once the stream has closed: null for a plain end, else what broke it. */
  readonly done: Promise<Error | null>;
  private closed = false;

  constructor(
    private readonly ptx: number,
    private readonly keepalive: number,
    readonly instance: string,
  ) {
    this.stream = new ReadStream(ptx);
    let failure: Error | null = null;
    // EIO on a pty master means its other side is gone: a plain end.
    this.stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EIO') failure = NativeError.from(err, { op: 'console', instance });
    });
    this.done = new Promise((resolve) => this.stream.once('close', () => resolve(failure)));
  }

  /** Sets the console's window size (TIOCSWINSZ on the pty). */
  resize(cols: number, rows: number): void {
    if (this.closed) return;
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1 || cols > 65535 || rows > 65535) {
      throw new RangeError(`resize: bad window size ${cols}x${rows}`);
    }
    try {
      binding().setWindowSize(this.ptx, cols, rows);
    } catch (err) {
      throw NativeError.from(err, { op: 'consoleResize', instance: this.instance });
    }
  }

  /** Closes the pty and gives the console back to the monitor; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // destroy() closes the ptx through libuv; the keepalive is ours alone.
    this.stream.destroy();
    closeSync(this.keepalive);
  }
}

/**
 * Attaches to a running container's console. Rejects with a NativeError:
 * code EBUSY when another client holds it, ESRCH when not running.
 */
export async function openConsole(ref: LxcHandle): Promise<ConsolePty> {
  checkHandle('consoleOpen', ref);
  const fds = await wrapNative('consoleOpen', ref.name, () => binding().consoleOpen(ref.name, ref.lxcpath));
  try {
    return new ConsolePty(fds.ptx, fds.keepalive, ref.name);
  } catch (err) {
    closeSync(fds.ptx);
    closeSync(fds.keepalive);
    throw err;
  }
}

/** The console ring buffer of a running container; liblxc drains what it returns (empty when nothing is new). */
export async function readConsoleLog(ref: LxcHandle): Promise<Buffer> {
  checkHandle('consoleLog', ref);
  try {
    return await wrapNative('consoleLog', ref.name, () => binding().consoleLog(ref.name, ref.lxcpath, false));
  } catch (err) {
    if (err instanceof NativeError && err.code === 'ENODATA') return Buffer.alloc(0);
    throw err;
  }
}

/** Clears the console ring buffer of a running container (not lxc.console.logfile). */
export async function clearConsoleLog(ref: LxcHandle): Promise<void> {
  checkHandle('consoleLog', ref);
  try {
    await wrapNative('consoleLog', ref.name, () => binding().consoleLog(ref.name, ref.lxcpath, true));
  } catch (err) {
    if (err instanceof NativeError && err.code === 'ENODATA') return;
    throw err;
  }
}
