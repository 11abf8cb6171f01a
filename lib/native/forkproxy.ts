/**
 * Starts `incusd-helper forkproxy`, the relay process of a proxy device:
 * detached in its own session so that it outlives a daemon restart, and
 * resolved only once it reports that it listens.
 */
import { spawn } from 'node:child_process';
import { helperPath } from './addon';
import { NativeError } from './errors';
import { helperFailure } from './helper';
import { checkPath } from './validate';

export interface ForkproxySpec {
  /** Container init whose namespaces hold the listeners, 0 for the host. */
  listenPid: number;
  /** Container init whose namespaces outgoing connections start in, 0 for the host. */
  connectPid: number;
  /** Where the relay writes once running. */
  logPath: string;
  /** Owner and mode of a listening unix socket file (ids as seen where it listens). */
  uid: number;
  gid: number;
  mode: number;
  /** Ids the relay drops to once set up (0 keeps root). */
  securityUid: number;
  securityGid: number;
  /** Listen and connect addresses, one port each: `tcp:127.0.0.1:80`, `udp:[::1]:53`, `unix:/run/x.sock`, `unix:@name`. */
  pairs: [string, string][];
}

/** At most this many listen/connect pairs (forkproxy's PX_MAX_PAIRS). */
export const FORKPROXY_MAX_PAIRS = 64;

/** The helper's argv (after the executable) for spec. */
export function forkproxyArgs(spec: ForkproxySpec): string[] {
  if (spec.pairs.length === 0 || spec.pairs.length > FORKPROXY_MAX_PAIRS) {
    throw new RangeError(`forkproxy: between 1 and ${FORKPROXY_MAX_PAIRS} address pairs, got ${spec.pairs.length}`);
  }
  if (spec.listenPid !== 0 && spec.connectPid !== 0) throw new RangeError('forkproxy: one side must be the host');
  checkPath('forkproxy', 'logPath', spec.logPath);
  return [
    'forkproxy',
    String(spec.listenPid),
    String(spec.connectPid),
    spec.logPath,
    String(spec.uid),
    String(spec.gid),
    spec.mode.toString(8).padStart(4, '0'),
    String(spec.securityUid),
    String(spec.securityGid),
    '--',
    ...spec.pairs.flat(),
  ];
}

/**
 * Spawns the relay and resolves its PID once it prints "ready"; rejects
 * with its "<ECODE> <message>" when it exits first, or ETIMEDOUT.
 */
export function startForkproxy(spec: ForkproxySpec, timeoutMs = 10_000): Promise<number> {
  const args = forkproxyArgs(spec);
  return new Promise((resolve, reject) => {
    const child = spawn(helperPath(), args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const finish = (e: Error | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      if (e) reject(e);
      else resolve(child.pid ?? -1);
    };
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
      finish(new NativeError(`forkproxy did not start within ${timeoutMs} ms`, { code: 'ETIMEDOUT', op: 'forkproxy' }));
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready\n')) finish(null);
    });
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (e) => finish(NativeError.from(e, { op: 'forkproxy' })));
    child.once('exit', (status, signal) => {
      // Let the stderr pipe drain before reading the reason.
      setImmediate(() => {
        const { code, message } = helperFailure({ status, signal, stdout: out, stderr: err });
        finish(new NativeError(`forkproxy: ${message}`, { code, op: 'forkproxy' }));
      });
    });
  });
}
