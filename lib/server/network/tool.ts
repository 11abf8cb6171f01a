/**
 * Runs the host's network tools (ip, nft, tc, nsenter) without a shell and
 * without blocking the event loop; a failure carries the tool's own words.
 */
import { spawn } from 'node:child_process';

/** A tool that exited non-zero, with what it printed on stderr. */
export class ToolError extends Error {
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`${command}: ${stderr.trim() || `exited with status ${String(status)}`}`);
    this.name = 'ToolError';
  }
}

/** Runs `cmd args...`, feeding `input` on stdin; resolves to stdout. */
export function runTool(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('close', (status) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (status === 0) resolve(stdout);
      else reject(new ToolError(`${cmd} ${args.join(' ')}`, status, Buffer.concat(err).toString('utf8')));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** `ip ...`. */
export const ip = (...args: string[]): Promise<string> => runTool('ip', args);

/** `ip -j ...` parsed as JSON (an empty answer is an empty list). */
export async function ipJson<T>(...args: string[]): Promise<T[]> {
  const text = await runTool('ip', ['-j', ...args]);
  return text.trim() ? (JSON.parse(text) as T[]) : [];
}
