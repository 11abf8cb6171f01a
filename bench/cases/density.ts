/**
 * Density: launch busybox containers through the daemon, 8 at a time,
 * until N run (BENCH_DENSITY_COUNT, default 1000) or the first failure;
 * reports the time, host memory, daemon RSS, the first error (the limit
 * hit) and how much of each host limit was in use at the peak.
 */

import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { targetNote } from '../lib/target';
import { positiveCount } from '../lib/env-count';
import { hostUsedMiB, IncusFleet, rssMiB } from '../lib/fleet';
import { describeLimits, type HostLimit, hostLimits } from '../lib/host-limits';
import { startIncusDaemon } from '../lib/incus-daemon';

const COLUMN = 'ours';

/**
 * Which limit more containers would exhaust first, extrapolating each
 * one's growth per container between `before` and `peak`.
 */
function firstToRunOut(before: readonly HostLimit[], peak: readonly HostLimit[], running: number): string {
  let best: { name: string; at: number } | undefined;
  for (const p of peak) {
    const b = before.find((x) => x.name === p.name);
    const per = b && running > 0 ? (p.used - b.used) / running : 0;
    if (!b || per <= 0) continue;
    const at = Math.floor((p.max - b.used) / per);
    if (!best || at < best.at) best = { name: `${p.name}, ${per.toFixed(2)} per container`, at };
  }
  return best ? `${best.name}: about ${best.at} containers` : 'none of the watched limits grew';
}

export const name = 'density';

export async function run(ctx: BenchContext): Promise<void> {
  const n = positiveCount('BENCH_DENSITY_COUNT', process.env.BENCH_DENSITY_COUNT, 1000);
  const work = await ctx.tmpDir('bench-density-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  const before = await hostLimits();
  const base = await hostUsedMiB();
  const fleet = new IncusFleet(ctx, daemon, `bench-dens-${process.pid}`);
  const t0 = Date.now();
  let firstError: string | undefined;
  try {
    await fleet.grow(n, (k) => {
      if (k % 100 === 0) ctx.log(`${k} running after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    firstError = (err as Error).message.split('\n')[0];
  }
  const seconds = (Date.now() - t0) / 1000;
  const running = (await daemon.client.getInstances(1)).filter((i) => i.status === 'Running').length;
  const used = (await hostUsedMiB()) - base;
  const rss = await rssMiB(daemon.pid);
  const peak = await hostLimits();
  await fleet.close();
  await daemon.stop();

  ctx.legend(`target: ${n} busybox containers running (BENCH_DENSITY_COUNT), launched through the API 8 at a time; the reference column is that target`);
  ctx.column(COLUMN, 'incusd via lib/client: POST /1.0/instances + PUT state start');
  ctx.legend('host memory: (MemTotal - MemAvailable) after - before: noisy on a shared host; the memory case has per-container accounted figures');
  ctx.metric('density.running', running, 'containers');
  ctx.metric('density.time', seconds, 's');
  ctx.metric('density.host_memory', used, 'MiB');
  ctx.metric('density.daemon_rss', rss, 'MiB');
  ctx.row({ metric: 'containers running', unit: '', values: { [COLUMN]: running }, reference: n });
  ctx.row({ metric: 'time to launch them', unit: 's', values: { [COLUMN]: seconds } });
  ctx.row({ metric: 'launch rate', unit: '/s', values: { [COLUMN]: running / seconds } });
  ctx.row({ metric: 'host memory used by them', unit: 'MiB', values: { [COLUMN]: used } });
  ctx.row({ metric: 'daemon RSS at the peak', unit: 'MiB', values: { [COLUMN]: rss } });
  targetNote(ctx, `${n} containers running`, running >= n, `${running} running after ${seconds.toFixed(0)} s`);
  ctx.note(firstError === undefined ? `no limit hit up to ${n}` : `first failure at ${running} running: ${firstError}`);
  ctx.note(`host limits before: ${describeLimits(before)}`);
  ctx.note(`host limits at the peak: ${describeLimits(peak)}`);
  ctx.note(`first limit on the way at this pace: ${firstToRunOut(before, peak, running)}`);
  ctx.note('no sysctl was raised for this run');
}
