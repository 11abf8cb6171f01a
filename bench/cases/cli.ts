/**
 * CLI start-up: `node bin/incus version` (no daemon call) and `incus list`
 * (one request, empty daemon) next to bare `node -e 0`, each timed inside
 * one bash loop; the sides take turns batch by batch.
 */

import fs from 'node:fs';
import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { bashLoop } from '../lib/bash-time';
import { BenchContext, Unavailable } from '../lib/case';
import { targetNote } from '../lib/target';
import { startIncusDaemon } from '../lib/incus-daemon';
import { median } from '../lib/stats';

const BATCH = 5;
/** Target: at most this many ms over bare Node start-up. */
const TARGET_OVER_MS = 30;
const COLUMN = 'ours';

export const name = 'cli';

export async function run(ctx: BenchContext): Promise<void> {
  const bin = path.join(ctx.repoRoot, 'bin', 'incus');
  if (!fs.existsSync(bin)) throw new Unavailable('bin/incus does not exist yet');
  const work = await ctx.tmpDir('bench-cli-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  const node = process.execPath;
  const sides = {
    bare: `${node} -e 0`,
    version: `${node} ${bin} version`,
    list: `${node} ${bin} list`,
  } as const;
  const samples: Record<keyof typeof sides, number[]> = { bare: [], version: [], list: [] };
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    for (const k of Object.keys(sides) as (keyof typeof sides)[]) {
      const ms = await bashLoop(ctx, BATCH, sides[k], daemon.env);
      if (i >= ctx.warmup) samples[k].push(...ms);
    }
  }
  await daemon.stop();

  ctx.legend('reference: bare `node -e 0` from the same bash loop');
  ctx.column(COLUMN, '`node bin/incus ...` from a bash loop; `list` talks to an empty incusd over its unix socket');
  ctx.legend(`medians of ${samples.bare.length} runs per side (${ctx.runs} batches of ${BATCH}, after ${ctx.warmup} warm-up); target: at most ${TARGET_OVER_MS} ms over the reference`);
  const ref = median(samples.bare);
  ctx.metric('cli.node_e0', ref, 'ms');
  for (const k of ['version', 'list'] as const) {
    const v = median(samples[k]);
    ctx.metric(`cli.${k}`, v, 'ms');
    ctx.metric(`cli.${k}.over_node`, v - ref, 'ms');
    ctx.row({ metric: `incus ${k}`, unit: 'ms', values: { [COLUMN]: v }, reference: ref });
    ctx.row({ metric: `incus ${k}: overhead over node -e 0`, unit: 'ms', values: { [COLUMN]: v - ref }, reference: TARGET_OVER_MS });
    targetNote(ctx, `incus ${k} ≤ ${TARGET_OVER_MS} ms over node -e 0`, v - ref <= TARGET_OVER_MS, `${(v - ref).toFixed(1)} ms over`);
  }
  ctx.legend(`overhead rows: the reference column is the ${TARGET_OVER_MS} ms target, so a ratio above 1 misses it`);
}
