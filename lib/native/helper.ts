/**
 * Runs the incusd-helper executable (no shell) and reads its answer: stdout
 * carries the result, stderr one line "<ECODE> <message>" on failure.
 */
import { spawn } from 'node:child_process';
import { helperPath } from './addon';
import { NativeError } from './errors';

/** What a helper run produced. */
export interface HelperResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

// spawn() blocks the loop until the child has exec'd (a few ms, much more
// on a busy host), so helpers are spawned one per event-loop turn: ten
// parallel starts then cost ten short pauses instead of one long one.
let spawnQueue: Promise<void> = Promise.resolve();
function spawnTurn(): Promise<void> {
  const turn = spawnQueue.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  spawnQueue = turn;
  return turn;
}

/** Runs `incusd-helper ...args` to completion; rejects only when it cannot be spawned. */
export async function runHelper(args: string[], context: { op: string; instance?: string }): Promise<HelperResult> {
  await spawnTurn();
  return new Promise((resolve, reject) => {
    const child = spawn(helperPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', (e) => reject(NativeError.from(e, context)));
    // 'close' waits for the pipes too: it fires promptly because the helper
    // keeps no daemon attached to them.
    child.once('close', (status, signal) => {
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

/** The code and message of a failed helper run. */
export function helperFailure(res: HelperResult): { code: string; message: string } {
  const line = res.stderr.trim().split('\n').pop() ?? '';
  const m = /^(E[A-Z0-9]+) (.*)$/.exec(line);
  if (m) return { code: m[1], message: m[2] };
  if (res.signal) return { code: 'ELXC', message: `incusd-helper killed by ${res.signal}` };
  return { code: 'ELXC', message: line || `incusd-helper exited with status ${String(res.status)}` };
}
