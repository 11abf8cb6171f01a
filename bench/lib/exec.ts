/** Child processes for benchmarks: no shell, tracked by PID until they exit. */

import { spawn, SpawnOptions } from 'node:child_process';

/** What a command printed and how it ended. */
export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options for {@link execTracked}. */
export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolve instead of rejecting on a non-zero exit. */
  allowFail?: boolean;
  /** Kill the command (SIGKILL) after this long. */
  timeoutMs?: number;
  input?: string;
}

/** PIDs of commands still running, so an interrupted run can end them. */
export const livePids = new Set<number>();

/**
 * Runs `cmd args...` and resolves with its output; rejects naming the
 * command and its stderr when it fails (unless `allowFail`).
 */
export function execTracked(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const so: SpawnOptions = {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    };
    const child = spawn(cmd, args, so);
    const pid = child.pid;
    if (pid !== undefined) livePids.add(pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    if (opts.input !== undefined && child.stdin) {
      // A command that exits without reading its input is not an error here.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      if (pid !== undefined) livePids.delete(pid);
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (pid !== undefined) livePids.delete(pid);
      if (timer) clearTimeout(timer);
      const res: ExecResult = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (code === 0 || opts.allowFail === true) {
        resolve(res);
        return;
      }
      const how = signal !== null ? `signal ${signal}` : `status ${code}`;
      reject(new Error(`${cmd} ${args.join(' ')} failed with ${how}: ${res.stderr.trim().slice(-1500)}`));
    });
  });
}

/** Sends SIGKILL to every command still running from {@link execTracked}. */
export function killLive(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  livePids.clear();
}

/** True while `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once `pid` is gone. */
export async function terminate(pid: number, graceMs: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      return;
    }
    while (alive(pid)) await sleep(20);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
