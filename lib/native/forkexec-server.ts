/**
 * The daemon's side of `incusd-helper forkexec-server`: one long-lived,
 * single-threaded helper that forks a `forkexec` per exec request, so an
 * exec costs a fork of a tiny process instead of a fork+exec from Node
 * (which also stalls the event loop for milliseconds). Requests go over a
 * SOCK_SEQPACKET pair with the command's fds attached (SCM_RIGHTS); the
 * server is started on first use, restarted if it dies, and exits by
 * itself when the daemon does (its socket reaches EOF).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { helperPath, binding } from './addon';
import { NativeError } from './errors';

/** Largest request the server accepts (arguments plus environment). */
const REQUEST_MAX = 256 * 1024;
/** Delay before sending again when the server's queue is full. */
const RETRY_MS = 1;

interface Pending {
  payload: Buffer;
  fds: number[];
  fail: (err: Error) => void;
}

function closeQuietly(fds: readonly number[]): void {
  for (const fd of new Set(fds)) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

class ForkexecServer {
  private fd = -1;
  private child: ChildProcess | null = null;
  private readonly queue: Pending[] = [];

  /**
   * Queues one request: `args` as for `incusd-helper forkexec ...`, `fds`
   * the command's stdin, stdout, stderr and the control socket's far end.
   * Takes ownership of the fds (closed once sent); `fail` hears of a
   * request that could not be delivered (its fds are closed then too).
   */
  submit(args: readonly string[], fds: readonly number[], fail: (err: Error) => void): void {
    const payload = Buffer.from(`${args.join('\0')}\0`);
    if (payload.length > REQUEST_MAX) {
      closeQuietly(fds);
      fail(new NativeError('exec: the command and environment are too large', { code: 'E2BIG', op: 'exec' }));
      return;
    }
    this.queue.push({ payload, fds: [...fds], fail });
    if (this.queue.length === 1) this.flush();
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const req = this.queue[0];
      try {
        this.send(req);
      } catch (err) {
        if ((err as NativeError).code === 'EAGAIN') {
          setTimeout(() => this.flush(), RETRY_MS);
          return;
        }
        closeQuietly(req.fds);
        req.fail(NativeError.from(err, { op: 'exec' }));
      }
      this.queue.shift();
    }
  }

  private send(req: Pending): void {
    let retried = false;
    for (;;) {
      const fd = this.ensure();
      try {
        binding().sendMsg(fd, req.payload, req.fds);
        closeQuietly(req.fds);
        return;
      } catch (err) {
        const code = (err as NativeError).code;
        // The server died since it was started: start a new one, once.
        if (!retried && (code === 'EPIPE' || code === 'ECONNREFUSED' || code === 'ENOTCONN' || code === 'ECONNRESET')) {
          retried = true;
          this.reset();
          continue;
        }
        throw err;
      }
    }
  }

  private ensure(): number {
    if (this.fd >= 0) return this.fd;
    const [ours, theirs] = binding().seqpacketPair();
    let child: ChildProcess;
    try {
      // Its own session: a terminal's ^C to the daemon must not reach the commands.
      child = spawn(helperPath(), ['forkexec-server'], { stdio: ['ignore', 'ignore', 'ignore', theirs], detached: true, env: {} });
    } catch (err) {
      closeQuietly([ours, theirs]);
      throw err;
    }
    closeQuietly([theirs]);
    child.unref();
    child.on('error', () => undefined);
    child.once('exit', () => {
      if (this.child === child) this.reset();
    });
    this.child = child;
    this.fd = ours;
    return ours;
  }

  private reset(): void {
    if (this.fd >= 0) closeQuietly([this.fd]);
    this.fd = -1;
    this.child = null;
  }
}

let server: ForkexecServer | undefined;

/** The process-wide forkexec server (started on first request). */
export function forkexecServer(): ForkexecServer {
  server ??= new ForkexecServer();
  return server;
}

export type { ForkexecServer };
