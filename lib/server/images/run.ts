/** Runs a system tool (tar, xz...) without a shell; rejects with its stderr. */
import { type ChildProcess, spawn, type StdioOptions } from 'node:child_process';

export function run(cmd: string, args: string[], opts: { stdout?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(out));
      else {
        const msg = Buffer.concat(err).toString().trim() || `exit ${code ?? signal}`;
        reject(new Error(`${cmd} failed: ${msg}`));
      }
    });
  });
}

/**
 * Runs a tool whose pipes (stdio: stderr a pipe) `io` feeds or drains
 * while it runs; rejects with `what` and the tool's stderr when it fails,
 * or with io's error (the tool then killed).
 */
export async function runPiped(cmd: string, args: string[], stdio: StdioOptions, what: string, io: (child: ChildProcess) => Promise<void>): Promise<void> {
  const child = spawn(cmd, args, { stdio });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString();
  });
  const code = new Promise<number>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (c) => resolve(c ?? -1));
  });
  try {
    await io(child);
  } catch (err) {
    child.kill('SIGKILL');
    const failed = (await code) !== 0 && stderr.trim() !== '';
    // A tool that quit on its own closed the pipe: its reason says more than the broken pipe.
    if (failed && (err as NodeJS.ErrnoException).code === 'EPIPE') throw new Error(`${what}: ${stderr.trim()}`);
    throw err;
  }
  const c = await code;
  if (c !== 0) throw new Error(`${what}: ${stderr.trim() || `exit ${c}`}`);
}
