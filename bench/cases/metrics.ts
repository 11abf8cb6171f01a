/**
 * Metrics: one `GET /1.0/metrics` scrape (OpenMetrics text, every running
 * container's CPU, memory, disk, network and process figures) next to
 * `GET /1.0/instances?recursion=2` in the same run, on the same daemon,
 * with BENCH_METRICS_COUNTS running busybox containers (default 1000).
 * The calls alternate one by one so neither runs on a warmer daemon.
 * Target (issue 15): the scrape at most 1.5× the list.
 */

import path from 'node:path';
import { getMetrics } from '../../lib/client/metrics';
import { METRICS_CACHE_MS } from '../../lib/server/metrics/collect';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { IncusFleet } from '../lib/fleet';
import { startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';
import { targetNote } from '../lib/target';

export const METRICS_TARGET_RATIO = 1.5;
const COLUMNS = { scrape: 'GET /1.0/metrics', list: 'GET /1.0/instances?recursion=2' } as const;

/** The running counts to measure at (BENCH_METRICS_COUNTS, default 1000), ascending. */
export function metricsCounts(raw: string | undefined): number[] {
  const text = raw === undefined || raw.trim() === '' ? '1000' : raw;
  const counts = text.split(',').map((s) => Number(s.trim()));
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`BENCH_METRICS_COUNTS must be positive integers, got "${text}"`);
  return [...new Set(counts)].sort((a, b) => a - b);
}

/** Scrape over list, and whether it is within the target. */
export function metricsVerdict(listMs: number, scrapeMs: number): { ratio: number; met: boolean } {
  const ratio = scrapeMs / listMs;
  return { ratio, met: ratio <= METRICS_TARGET_RATIO };
}

/** Containers a scrape names (its incus_procs_total samples). */
function scrapedInstances(text: string): number {
  return (text.match(/^incus_procs_total\{/gm) ?? []).length;
}

export const name = 'metrics';

export async function run(ctx: BenchContext): Promise<void> {
  const counts = metricsCounts(process.env.BENCH_METRICS_COUNTS);
  const work = await ctx.tmpDir('bench-metrics-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  const fleet = new IncusFleet(ctx, daemon, `bench-metrics-${process.pid}`);
  ctx.column(COLUMNS.scrape, 'incusd via lib/client: the OpenMetrics text of every running container, read whole');
  ctx.column(COLUMNS.list, 'incusd via lib/client: full state of each instance, parsed');
  ctx.legend(`medians of ${ctx.runs} calls per side (after ${ctx.warmup} warm-up), alternating; each scrape after the daemon's 8 s metrics cache expired (so it reads every container); busybox containers launched 8 at a time; target: scrape ≤ ${METRICS_TARGET_RATIO}× the list`);
  for (const n of counts) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const t0 = Date.now();
    await fleet.grow(n);
    ctx.log(`${n} running (grown in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const scrape: number[] = [];
    const list: number[] = [];
    for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
      // The daemon serves a scrape within 8 s of the last from its cache (as Incus does): each timed scrape is built afresh.
      await new Promise((r) => setTimeout(r, METRICS_CACHE_MS + 200));
      let text = '';
      const s = await timeMs(async () => {
        text = await getMetrics(daemon.client, { allProjects: true });
      });
      if (scrapedInstances(text) !== n) throw new Error(`the scrape names ${scrapedInstances(text)} containers, expected ${n}`);
      let got = -1;
      const l = await timeMs(async () => {
        got = (await daemon.client.getInstances(2)).length;
      });
      if (got !== n) throw new Error(`GET /1.0/instances returned ${got} instances, expected ${n}`);
      if (i >= ctx.warmup) {
        scrape.push(s);
        list.push(l);
      }
    }
    ctx.metric(`metrics.${n}.scrape`, median(scrape), 'ms');
    ctx.metric(`metrics.${n}.list`, median(list), 'ms');
    ctx.row({ metric: `${n} running`, unit: 'ms', values: { [COLUMNS.scrape]: median(scrape), [COLUMNS.list]: median(list) } });
    const v = metricsVerdict(median(list), median(scrape));
    targetNote(ctx, `scrape with ${n} running ≤ ${METRICS_TARGET_RATIO}× the list`, v.met, `${v.ratio.toFixed(2)}× (${median(scrape).toFixed(0)} vs ${median(list).toFixed(0)} ms)`);
  }
  await fleet.close();
  await daemon.stop();
}
