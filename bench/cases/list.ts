/**
 * Listing: `GET /1.0/instances?recursion=2` (lib/client) and `incus list`
 * (default columns, full state; Node start-up included) with 0, 200 and
 * 1,000 running busybox containers (BENCH_LIST_COUNTS, e.g. `0,50`), next
 * to the floor: `lxc-ls -f` on the same daemon-managed containers (state,
 * PID and addresses of each, straight from liblxc).
 */

import fs from 'node:fs';
import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { bashLoop } from '../lib/bash-time';
import { BenchContext } from '../lib/case';
import { targetNote } from '../lib/target';
import { IncusFleet } from '../lib/fleet';
import { startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

const COLUMNS = { api: 'ours (API)', cli: 'ours (CLI)' } as const;
/** Targets for the API call, by running count. */
const TARGETS: Record<number, number> = { 200: 100, 1000: 300 };

/** The running counts to measure at, ascending. */
export function listCounts(raw: string | undefined): number[] {
  const text = raw === undefined || raw.trim() === '' ? '0,200,1000' : raw;
  const counts = text.split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 0)) throw new RangeError(`BENCH_LIST_COUNTS must be non-negative integers, got "${text}"`);
  return [...new Set(counts)].sort((a, b) => a - b);
}

export const name = 'list';

export async function run(ctx: BenchContext): Promise<void> {
  const counts = listCounts(process.env.BENCH_LIST_COUNTS);
  const work = await ctx.tmpDir('bench-list-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  const fleet = new IncusFleet(ctx, daemon, `bench-list-${process.pid}`);
  const lxcpath = path.join(daemon.dir, 'containers');
  const bin = path.join(ctx.repoRoot, 'bin', 'incus');
  const haveCli = fs.existsSync(bin);
  if (!haveCli) ctx.note('CLI column skipped: bin/incus does not exist yet');

  ctx.legend('reference: raw liblxc: `lxc-ls -P <lxcpath> -f` (name, state, PID, addresses of each) on the same containers, from a bash loop');
  ctx.column(COLUMNS.api, 'incusd via lib/client: GET /1.0/instances?recursion=2 (full state of each), parsed');
  if (haveCli) ctx.column(COLUMNS.cli, '`node bin/incus list` (default columns) from a bash loop, Node start-up included');
  ctx.legend(`medians of ${ctx.runs} runs per side (after ${ctx.warmup} warm-up); busybox containers launched 8 at a time; targets (API): ${Object.entries(TARGETS).map(([n, ms]) => `≤ ${ms} ms at ${n}`).join(', ')}`);

  for (const n of counts) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const t0 = Date.now();
    await fleet.grow(n);
    ctx.log(`${n} running (grown in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const api: number[] = [];
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      let got = -1;
      const ms = await timeMs(async () => {
        got = (await daemon.client.getInstances(2)).length;
      });
      if (got !== n) throw new Error(`GET /1.0/instances returned ${got} instances, expected ${n}`);
      if (i >= ctx.warmup) api.push(ms);
    }
    const raw = (await bashLoop(ctx, ctx.warmup + ctx.runs, `lxc-ls -P ${lxcpath} -f`)).slice(ctx.warmup);
    const values: Record<string, number | undefined> = { [COLUMNS.api]: median(api) };
    ctx.metric(`list.${n}.api`, median(api), 'ms');
    ctx.metric(`list.${n}.raw`, median(raw), 'ms');
    if (haveCli) {
      const cli = (await bashLoop(ctx, ctx.warmup + ctx.runs, `${process.execPath} ${bin} list`, daemon.env)).slice(ctx.warmup);
      values[COLUMNS.cli] = median(cli);
      ctx.metric(`list.${n}.cli`, median(cli), 'ms');
    }
    ctx.row({ metric: `list, ${n} running`, unit: 'ms', values, reference: median(raw) });
    const target = TARGETS[n];
    if (target !== undefined) targetNote(ctx, `API list with ${n} running ≤ ${target} ms`, median(api) <= target, `${median(api).toFixed(0)} ms`);
  }
  await fleet.close();
  await daemon.stop();
}
