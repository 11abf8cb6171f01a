/**
 * Whether checkpoint/restore can work here: `criu check` must pass before a
 * stateful snapshot or stop is attempted through liblxc.
 */
import { spawn } from 'node:child_process';

/** Resolves to null when `criu check` passes, else to the reason (for a 400). */
export function criuProblem(): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn('criu', ['check'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (b: Buffer) => (text += b.toString()));
    child.stderr.on('data', (b: Buffer) => (text += b.toString()));
    child.on('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'ENOENT' ? "Unable to perform container live migration. CRIU isn't installed" : `criu check: ${err.message}`);
    });
    child.on('close', (code) => {
      if (code === 0) resolve(null);
      else resolve(`CRIU check failed: ${text.trim().split('\n').slice(-3).join('; ') || `exit ${code}`}`);
    });
  });
}
