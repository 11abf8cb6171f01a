/**
 * Runs a command inside a running container through `incusd-helper
 * forkexec` (liblxc attach happens in that fresh, single-threaded process,
 * never in Node), forked by the forkexec server. The command's stdio fds
 * and one end of a stream socket pair go to the helper; over that socket
 * the helper reports the attached PID (or why it could not attach) and
 * later the exit status, and takes "signal N" requests, which it delivers
 * through the pidfd of its still-unreaped child. Everything is read by
 * libuv on the event loop: no pool thread is parked, nothing blocks.
 */
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { binding } from './addon';
import { NativeError } from './errors';
import { forkexecServer } from './forkexec-server';
import { checkName, checkPath } from './validate';

/** What to run, where and as whom. */
export interface AttachSpec {
  /** liblxc container name. */
  name: string;
  lxcpath: string;
  /** The liblxc config the container was started with. */
  configPath: string;
  /** Program and arguments (looked up in the environment's PATH). */
  command: readonly string[];
  /** The whole environment of the command (nothing is inherited). */
  environment: Readonly<Record<string, string>>;
  /** Working directory inside the container; '' for $HOME (or liblxc's default). */
  cwd: string;
  uid: number;
  gid: number;
  /**
   * Host fds that become the command's stdin, stdout and stderr. They are
   * handed over: closed here once the helper holds them (the same fd may
   * appear more than once, e.g. a pty slave).
   */
  stdio: readonly [number, number, number];
}

const SIGNAL_MAX = 64;

function checkSpec(s: AttachSpec): void {
  const op = 'exec';
  checkName(op, s.name);
  checkPath(op, 'lxcpath', s.lxcpath);
  checkPath(op, 'configPath', s.configPath);
  if (!Array.isArray(s.command) || s.command.length === 0 || s.command.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new TypeError(`${op}: command must be a non-empty list of strings without NUL bytes`);
  }
  for (const [k, v] of Object.entries(s.environment)) {
    if (k === '' || k.includes('=') || k.includes('\0') || typeof v !== 'string' || v.includes('\0')) {
      throw new TypeError(`${op}: invalid environment variable ${JSON.stringify(k)}`);
    }
  }
  if (typeof s.cwd !== 'string' || s.cwd.includes('\0')) throw new TypeError(`${op}: invalid cwd`);
  for (const [what, id] of [['uid', s.uid], ['gid', s.gid]] as const) {
    if (!Number.isInteger(id) || id < 0 || id > 4294967294) throw new RangeError(`${op}: ${what} out of range: ${String(id)}`);
  }
  if (s.stdio.length !== 3 || s.stdio.some((fd) => !Number.isInteger(fd) || fd < 0)) throw new TypeError(`${op}: stdio must be three fds`);
}

/** The helper's command line for a spec. */
export function forkexecArgs(s: AttachSpec): string[] {
  return [
    'forkexec', s.name, s.lxcpath, s.configPath, s.cwd, String(s.uid), String(s.gid),
    '--', 'env', ...Object.entries(s.environment).map(([k, v]) => `${k}=${v}`),
    '--', 'cmd', ...s.command,
  ];
}

/**
 * One command running in a container. `started` resolves with the PID
 * (host view) once liblxc attached it, or rejects with a NativeError when
 * it could not start; `exited` resolves with the exit status (128+N after
 * signal N), or -1 when the command never started or its helper vanished.
 */
export class AttachedProcess {
  readonly started: Promise<number>;
  readonly exited: Promise<number>;
  private readonly control: Socket;
  private running = false;

  constructor(spec: AttachSpec) {
    try {
      checkSpec(spec);
    } catch (err) {
      closeFds(spec.stdio);
      throw err;
    }
    const instance = spec.name;
    let pair: [number, number];
    try {
      pair = binding().streamPair();
    } catch (err) {
      closeFds(spec.stdio);
      throw NativeError.from(err, { op: 'exec', instance });
    }
    this.control = new Socket({ fd: pair[0], readable: true, writable: true });
    // The helper may exit before reading what we sent: not an error here.
    this.control.on('error', () => undefined);

    let onStart!: (pid: number) => void;
    let onFail!: (err: Error) => void;
    let onExit!: (code: number) => void;
    this.started = new Promise<number>((resolve, reject) => {
      onStart = resolve;
      onFail = reject;
    });
    this.started.catch(() => undefined);
    this.exited = new Promise<number>((resolve) => (onExit = resolve));
    const fail = (code: string, message: string): void =>
      onFail(new NativeError(`exec ${instance}: ${message}`, { code, op: 'exec', instance }));

    let buffered = '';
    let status: number | null = null;
    this.control.on('data', (b: Buffer) => {
      buffered += b.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const m = /^(pid|exit) (-?\d+)$/.exec(line);
        if (m && m[1] === 'pid' && !this.running) {
          this.running = true;
          onStart(Number(m[2]));
        } else if (m && m[1] === 'exit') {
          status = Number(m[2]);
        } else if (!this.running) {
          const e = /^(E[A-Z0-9]+) (.*)$/.exec(line);
          fail(e ? e[1] : 'ELXC', e ? e[2] : line);
        }
      }
    });
    this.control.once('close', () => {
      if (!this.running) fail('ELXC', 'the exec helper ended before the command started');
      onExit(status ?? -1);
    });

    forkexecServer().submit(forkexecArgs(spec), [...spec.stdio, pair[1]], (err) => {
      fail((err as NativeError).code ?? 'ELXC', err.message);
      this.control.destroy();
    });
  }

  /** Delivers signal `sig` (a number, e.g. 15) to the command; ignored once it has exited. */
  signal(sig: number): void {
    if (!Number.isInteger(sig) || sig < 1 || sig > SIGNAL_MAX) throw new RangeError(`exec: bad signal ${String(sig)}`);
    if (this.control.destroyed || !this.control.writable) return;
    this.control.write(`signal ${sig}\n`);
  }

  /** SIGKILL to the command. */
  kill(): void {
    this.signal(9);
  }
}

function closeFds(fds: readonly number[]): void {
  for (const fd of new Set(fds)) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

/** Starts `spec` in its container; see {@link AttachedProcess}. */
export function attachCommand(spec: AttachSpec): AttachedProcess {
  return new AttachedProcess(spec);
}
