/** Runs a host tool without a shell and collects its output. */

import { spawn } from 'node:child_process';

/** What a finished command printed. */
export interface SpawnResult {
  stdout: string;
  stderr: string;
}

/** Options for {@link runTool}. */
export interface RunToolOptions {
  /** Extra environment on top of the caller's. */
  env?: Record<string, string>;
  cwd?: string;
}

/**
 * Runs `cmd args...` (no shell) and resolves with its output when it exits 0.
 * @throws Error with `code` `ENOENT` when the tool is missing, or an Error
 * naming the command, its exit status and the tail of its stderr.
 */
export function runTool(cmd: string, args: readonly string[], opts: RunToolOptions = {}): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env === undefined ? process.env : { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') return reject(err);
      // Say which tool is missing; scripts/setup.sh installs them all.
      reject(Object.assign(new Error(`${cmd} is not installed (see scripts/setup.sh)`), { code: 'ENOENT', path: cmd }));
    });
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (code === 0) {
        resolve({ stdout, stderr });
        return;
      }
      const status = signal !== null ? `signal ${signal}` : `status ${code}`;
      reject(new Error(`${cmd} ${args.join(' ')} failed with ${status}: ${stderr.trim().slice(-2000)}`));
    });
  });
}
