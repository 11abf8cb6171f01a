/** Timing shell commands from inside one bash, so no Node spawn is measured. */

import path from 'node:path';
import type { BenchContext } from './case';

/**
 * Runs `cmd` `count` times from one bash process; returns each run's
 * milliseconds ($EPOCHREALTIME around each command).
 */
export async function bashLoop(ctx: BenchContext, count: number, cmd: string, env?: NodeJS.ProcessEnv): Promise<number[]> {
  const err = path.join(await ctx.tmpDir('bench-bash-err-'), 'stderr');
  const script = `for i in $(seq ${count}); do s=$EPOCHREALTIME; ${cmd} >/dev/null 2>"${err}" </dev/null || { echo "failed ($?): $(cat "${err}")" >&2; exit 1; }; e=$EPOCHREALTIME; echo "$s $e"; done`;
  const r = await ctx.exec('bash', ['-c', script], { env });
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [s, e] = line.split(' ').map(Number);
      return (e - s) * 1000;
    });
}
