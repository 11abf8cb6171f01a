/**
 * Memory: incusd's RSS idle and with N running busybox containers, and
 * host memory per running container (MemTotal - MemAvailable, before and
 * after) next to the floor, the same number started with plain lxc-start
 * on the same image. N is BENCH_MEMORY_COUNT (default 1000).
 */

import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { targetNote } from '../lib/target';
import { sleep } from '../lib/exec';
import { positiveCount } from '../lib/env-count';
import { fleetMemory, hostUsedMiB, IncusFleet, RawFleet, rssMiB } from '../lib/fleet';
import { startIncusDaemon } from '../lib/incus-daemon';

const COLUMN = 'ours';
/** Targets: MiB per container beyond the floor, daemon RSS with 1,000 running. */
const TARGET_EXTRA_PER_CT = 1.5;
const TARGET_RSS_1000 = 150;
/** Let page reclaim and lazy frees settle before reading /proc/meminfo. */
const SETTLE_MS = 3000;

function count(): number {
  return positiveCount('BENCH_MEMORY_COUNT', process.env.BENCH_MEMORY_COUNT, 1000);
}

async function settledUsed(): Promise<number> {
  await sleep(SETTLE_MS);
  return hostUsedMiB();
}

export const name = 'memory';

export async function run(ctx: BenchContext): Promise<void> {
  const n = count();
  const work = await ctx.tmpDir('bench-memory-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });

  // The floor first, with no daemon around.
  const rawBase = await settledUsed();
  const raw = new RawFleet(ctx, path.join(work, 'raw'), image.path, `bench-mem-raw-${process.pid}`);
  await raw.grow(n);
  const rawPer = ((await settledUsed()) - rawBase) / n;
  const rawLxcpath = path.join(work, 'raw');
  const ls = await ctx.exec('lxc-ls', ['-P', rawLxcpath, '-f', '-F', 'PID', '--running']);
  const rawPids = ls.stdout.split('\n').slice(1).map((l) => Number(l.trim())).filter((p) => p > 0);
  const rawMem = await fleetMemory(rawLxcpath, rawPids);
  await raw.close();
  ctx.log(`raw: ${rawPer.toFixed(2)} MiB per container host-wide; cgroups ${rawMem.cgroups.toFixed(0)} MiB, monitors ${rawMem.hostSide.toFixed(0)} MiB`);

  const daemon = await startIncusDaemon(ctx, image.path);
  const idleRss = await rssMiB(daemon.pid);
  const base = await settledUsed();
  const fleet = new IncusFleet(ctx, daemon, `bench-mem-${process.pid}`);
  await fleet.grow(n);
  const ours = await settledUsed();
  const oursPer = (ours - base) / n;
  const busyRss = await rssMiB(daemon.pid);
  const pids = (await daemon.client.getInstances(2)).map((i) => i.state?.pid ?? 0).filter((p) => p > 0);
  // A full listing builds every instance's state at once: the daemon's peak use.
  const listedRss = await rssMiB(daemon.pid);
  const ourMem = await fleetMemory(path.join(daemon.dir, 'containers'), pids);
  await fleet.close();
  await daemon.stop();

  ctx.legend(`reference: raw liblxc: ${n} busybox containers started with lxc-start on a private lxcpath (same idmap, no NIC), host memory before/after`);
  ctx.column(COLUMN, `incusd: ${n} containers launched through the API, 8 at a time`);
  ctx.legend('accounted: per container, its cgroup\'s memory usage (kernel memory included) + the PSS of host processes naming its lxcpath (liblxc monitors); ours adds the daemon\'s RSS growth / N');
  ctx.legend(`host-wide: (MemTotal - MemAvailable) after - before, ${SETTLE_MS / 1000} s after the last start; noisy on a shared host (page cache, other work)`);
  ctx.legend(`targets: ≤ ${TARGET_EXTRA_PER_CT} MiB per container beyond the floor; daemon RSS ≤ ${TARGET_RSS_1000} MiB with 1,000 running (reference column of the RSS rows)`);
  ctx.metric('memory.per_container.raw', rawPer, 'MiB');
  ctx.metric('memory.per_container.ours', oursPer, 'MiB');
  ctx.metric('memory.daemon_rss.idle', idleRss, 'MiB');
  ctx.metric(`memory.daemon_rss.${n}`, busyRss, 'MiB');
  ctx.metric(`memory.daemon_rss.${n}.listed`, listedRss, 'MiB');
  const rawAcc = (rawMem.cgroups + rawMem.hostSide) / n;
  const oursAcc = (ourMem.cgroups + ourMem.hostSide + Math.max(0, busyRss - idleRss)) / n;
  ctx.metric('memory.accounted_per_container.raw', rawAcc, 'MiB');
  ctx.metric('memory.accounted_per_container.ours', oursAcc, 'MiB');
  ctx.row({ metric: `accounted memory per running container (${n})`, unit: 'MiB', values: { [COLUMN]: oursAcc }, reference: rawAcc });
  ctx.row({ metric: '… of which in its cgroup', unit: 'MiB', values: { [COLUMN]: ourMem.cgroups / n }, reference: rawMem.cgroups / n });
  ctx.row({ metric: '… of which host-side (monitor)', unit: 'MiB', values: { [COLUMN]: ourMem.hostSide / n }, reference: rawMem.hostSide / n });
  ctx.row({ metric: '… of which daemon growth', unit: 'MiB', values: { [COLUMN]: Math.max(0, busyRss - idleRss) / n }, reference: 0 });
  ctx.row({ metric: `host-wide memory per running container (${n})`, unit: 'MiB', values: { [COLUMN]: oursPer }, reference: rawPer });
  ctx.row({ metric: 'daemon RSS, idle', unit: 'MiB', values: { [COLUMN]: idleRss }, reference: TARGET_RSS_1000 });
  ctx.row({ metric: `daemon RSS, ${n} running`, unit: 'MiB', values: { [COLUMN]: busyRss }, reference: TARGET_RSS_1000 });
  ctx.row({ metric: `daemon RSS, ${n} running, after GET /1.0/instances?recursion=2`, unit: 'MiB', values: { [COLUMN]: listedRss }, reference: TARGET_RSS_1000 });
  targetNote(ctx, `≤ ${TARGET_EXTRA_PER_CT} MiB per running container beyond the floor`, oursAcc - rawAcc <= TARGET_EXTRA_PER_CT, `${(oursAcc - rawAcc).toFixed(2)} MiB accounted, ${(oursPer - rawPer).toFixed(2)} MiB host-wide`);
  const peakRss = Math.max(busyRss, listedRss);
  targetNote(ctx, `daemon RSS ≤ ${TARGET_RSS_1000} MiB with ${n} running`, peakRss <= TARGET_RSS_1000, `${peakRss.toFixed(0)} MiB at most (after launching them and after a full listing)`);
  if (n < 1000) ctx.note(`run with ${n} containers, not 1,000 (BENCH_MEMORY_COUNT)`);
}
