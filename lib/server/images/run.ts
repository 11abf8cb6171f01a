/** Runs a system tool (tar, xz...) without a shell; rejects with its stderr. */
import { spawn } from 'node:child_process';

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
