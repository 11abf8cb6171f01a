/**
 * The database seam, before and after: the container path's API calls that
 * read and write the database, on two daemons side by side in one run, the
 * baseline built from another checkout (BENCH_BASELINE_ROOT: a built clone
 * of the commit to compare with) and this tree. Sides alternate call by
 * call so that the host's load falls on both alike. Skipped without a
 * baseline.
 */

import fs from 'node:fs';
import path from 'node:path';
import { getMetrics } from '../../lib/client/metrics';
import { METRICS_CACHE_MS } from '../../lib/server/metrics/collect';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext, Unavailable } from '../lib/case';
import { IncusFleet } from '../lib/fleet';
import { type IncusDaemon, startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

export const name = 'seam';

const BEFORE = 'before (baseline)';
const AFTER = 'after (this tree)';

type Side = { label: string; daemon: IncusDaemon; fleet: IncusFleet };

export async function run(ctx: BenchContext): Promise<void> {
  const baseline = process.env.BENCH_BASELINE_ROOT;
  if (!baseline) throw new Unavailable('set BENCH_BASELINE_ROOT to a built checkout of the commit to compare with');
  if (!fs.existsSync(path.join(baseline, 'dist', 'lib', 'server', 'main.js'))) throw new Unavailable(`${baseline} is not built (no dist/)`);
  const count = Number(process.env.BENCH_SEAM_COUNT ?? 100);
  const work = await ctx.tmpDir('bench-seam-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const commit = (await ctx.exec('git', ['-C', baseline, 'rev-parse', '--short', 'HEAD'], { allowFail: true })).stdout.trim() || '?';
  const sides: Side[] = [];
  for (const [label, root] of [[BEFORE, baseline], [AFTER, ctx.repoRoot]] as const) {
    const daemon = await startIncusDaemon(ctx, image.path, root);
    sides.push({ label, daemon, fleet: new IncusFleet(ctx, daemon, `seam-${sides.length}`) });
  }
  ctx.column(BEFORE, `incusd built from ${baseline} (commit ${commit}), via lib/client`);
  ctx.column(AFTER, 'incusd from this tree, via lib/client');
  ctx.legend(`${count} running busybox containers on each daemon (launched 8 at a time, the two daemons in turn); each call alternates between the sides; medians of ${ctx.runs} calls per side after ${ctx.warmup} warm-up; lower is better`);

  const launch: Record<string, number[]> = { [BEFORE]: [], [AFTER]: [] };
  for (let n = 8; n <= count + 7; n += 8) {
    for (const s of sides) await s.fleet.grow(Math.min(n, count), (_, ms) => launch[s.label].push(ms));
  }
  ctx.row({ metric: `launch (create + start), each of ${count}`, unit: 'ms', values: { [BEFORE]: median(launch[BEFORE]), [AFTER]: median(launch[AFTER]) } });

  const probe = `${sides[0].fleet.names[0]}`;
  // A scrape within 8 s of the last one is served from the daemon's cache (as Incus does): wait it out so each is built.
  const coldScrape = async (): Promise<void> => new Promise((r) => setTimeout(r, METRICS_CACHE_MS + 200));
  const calls: [string, (s: Side) => Promise<unknown>, (() => Promise<void>)?][] = [
    [`GET /1.0/instances?recursion=2, ${count} running`, (s) => s.daemon.client.getInstances(2)],
    ['GET /1.0/instances/NAME?recursion=1 (with state)', (s) => s.daemon.client.getInstanceFull(s.fleet.names[0])],
    ['PATCH /1.0/instances/NAME (one user key)', (s) => s.daemon.client.patchInstance(s.fleet.names[0], { config: { 'user.seam': String(Date.now()) } })],
    ['GET /1.0/profiles?recursion=1', (s) => s.daemon.client.getProfiles()],
    [`GET /1.0/metrics (cache expired), ${count} running`, (s) => getMetrics(s.daemon.client), coldScrape],
  ];
  ctx.log(`probing ${probe} and its twin`);
  for (const [metric, call, before] of calls) {
    const samples: Record<string, number[]> = { [BEFORE]: [], [AFTER]: [] };
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      await before?.();
      for (const s of i % 2 === 0 ? sides : [...sides].reverse()) {
        const ms = await timeMs(() => call(s));
        if (i >= ctx.warmup) samples[s.label].push(ms);
      }
    }
    const values = { [BEFORE]: median(samples[BEFORE]), [AFTER]: median(samples[AFTER]) };
    ctx.metric(`seam.${metric}.before`, values[BEFORE], 'ms');
    ctx.metric(`seam.${metric}.after`, values[AFTER], 'ms');
    ctx.row({ metric, unit: 'ms', values });
  }
  for (const s of sides) {
    await s.fleet.close();
    await s.daemon.stop();
  }
}
