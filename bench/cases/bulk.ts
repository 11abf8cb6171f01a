/**
 * Bulk: N launches (BENCH_BULK_COUNT, default 200) one after another and
 * 8 at a time, and delete --force of N running containers one at a time
 * and 8 at a time, ours (API) against the raw liblxc floor on the same
 * busybox rootfs. Wall times, their rates, and the median single launch.
 */

import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { positiveCount } from '../lib/env-count';
import { FLEET_PARALLEL, FleetInventory, IncusFleet, RawFleet } from '../lib/fleet';
import { startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

const COLUMN = 'ours (API)';

/** How many containers each phase launches or deletes. */
export function bulkCount(raw: string | undefined): number {
  return positiveCount('BENCH_BULK_COUNT', raw, 200);
}

/** What {@link IncusFleet} and {@link RawFleet} both offer. */
interface Fleet {
  grow(count: number, onEach?: (running: number, ms: number) => void, width?: number): Promise<void>;
  deleteAll(width?: number): Promise<void>;
  inventory(): Promise<FleetInventory>;
}

/** One side's figures: wall times in ms, plus each one-at-a-time launch. */
interface Figures {
  launchSeq: number;
  launchEach: number[];
  launchPar: number;
  deleteSeq: number;
  deletePar: number;
}

/**
 * N launches one at a time, their deletion one at a time, N launches 8 at
 * a time, their deletion 8 at a time; after each phase checks (untimed)
 * that what should run runs and what was deleted is gone.
 */
async function measure(ctx: BenchContext, side: string, fleet: Fleet, n: number): Promise<Figures> {
  const expect = async (after: string, want: number): Promise<void> => {
    const got = await fleet.inventory();
    if (got.existing !== want || got.running !== want) {
      throw new Error(`${side}: after ${after}, ${got.existing} exist and ${got.running} run, expected ${want}`);
    }
  };
  const progress = (what: string) => (k: number): void => {
    if (k % 50 === 0) ctx.log(`${side}: ${k} running (${what})`);
  };
  const launchEach: number[] = [];
  const seqProgress = progress('one at a time');
  const launchSeq = await timeMs(() => fleet.grow(n, (k, ms) => {
    launchEach.push(ms);
    seqProgress(k);
  }, 1));
  await expect('launches one at a time', n);
  const deleteSeq = await timeMs(() => fleet.deleteAll(1));
  await expect('deleting one at a time', 0);
  const launchPar = await timeMs(() => fleet.grow(n, progress(`${FLEET_PARALLEL} at a time`), FLEET_PARALLEL));
  await expect(`launches ${FLEET_PARALLEL} at a time`, n);
  const deletePar = await timeMs(() => fleet.deleteAll(FLEET_PARALLEL));
  await expect(`deleting ${FLEET_PARALLEL} at a time`, 0);
  ctx.log(`${side}: launches ${(launchSeq / 1000).toFixed(1)} s / ${(launchPar / 1000).toFixed(1)} s, deletes ${(deleteSeq / 1000).toFixed(1)} s / ${(deletePar / 1000).toFixed(1)} s`);
  return { launchSeq, launchEach, launchPar, deleteSeq, deletePar };
}

export const name = 'bulk';

export async function run(ctx: BenchContext): Promise<void> {
  const n = bulkCount(process.env.BENCH_BULK_COUNT);
  const work = await ctx.tmpDir('bench-bulk-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  const rawFleet = new RawFleet(ctx, path.join(work, 'lxc'), image.path, `bench-bulk-raw-${process.pid}`);
  const oursFleet = new IncusFleet(ctx, daemon, `bench-bulk-${process.pid}`);

  // The floor first, then ours: each side alone with its own containers.
  const raw = await measure(ctx, 'raw', rawFleet, n);
  await rawFleet.close();
  const ours = await measure(ctx, 'api', oursFleet, n);
  await oursFleet.close();
  await daemon.stop();

  const p = FLEET_PARALLEL;
  ctx.legend('reference: raw liblxc: launch = tar -xf + lxc-start + lxc-wait RUNNING; delete --force = lxc-stop -k + rm -rf');
  ctx.column(COLUMN, 'incusd via lib/client, each call waiting for its operation: launch = POST /1.0/instances + PUT state start; '
    + 'delete --force = PUT state {stop, force} + DELETE (what `incus delete -f` does)');
  ctx.legend(`N = ${n} (BENCH_BULK_COUNT); one run (BENCH_RUNS does not apply: each phase is N samples); the floor runs first, then ours, each alone on the host with its own containers`);
  ctx.legend(`phases in order: N launches one at a time, their delete --force one at a time, N launches ${p} at a time, their delete --force ${p} at a time (all running when deleted); `
    + 'each phase checked afterwards, untimed, by listing what exists and runs');
  ctx.legend('rates are N / wall time: higher is better there, so a rate ratio below 1× is the shortfall');

  /** Metric key, wall-time row, rate row, figure. */
  const walls: [string, string, string, keyof Omit<Figures, 'launchEach'>][] = [
    ['launch_seq', `${n} launches, one at a time`, 'launch rate, one at a time', 'launchSeq'],
    ['launch_par', `${n} launches, ${p} at a time`, `launch rate, ${p} at a time`, 'launchPar'],
    ['delete_seq', `delete --force of ${n} running, one at a time`, 'delete --force rate, one at a time', 'deleteSeq'],
    ['delete_par', `delete --force of ${n} running, ${p} at a time`, `delete --force rate, ${p} at a time`, 'deletePar'],
  ];
  for (const [key, label, , field] of walls) {
    const [r, o] = [raw[field] / 1000, ours[field] / 1000];
    ctx.metric(`bulk.${key}.raw`, r, 's');
    ctx.metric(`bulk.${key}.api`, o, 's');
    ctx.metric(`bulk.${key}.api.ratio`, o / r, 'x');
    ctx.row({ metric: label, unit: 's', values: { [COLUMN]: o }, reference: r });
  }
  const [rEach, oEach] = [median(raw.launchEach), median(ours.launchEach)];
  ctx.metric('bulk.launch_each.raw', rEach, 'ms');
  ctx.metric('bulk.launch_each.api', oEach, 'ms');
  ctx.row({ metric: 'launch, median of the one-at-a-time ones', unit: 'ms', values: { [COLUMN]: oEach }, reference: rEach });
  for (const [key, , label, field] of walls) {
    const [r, o] = [n / (raw[field] / 1000), n / (ours[field] / 1000)];
    ctx.metric(`bulk.${key}.rate.raw`, r, '/s');
    ctx.metric(`bulk.${key}.rate.api`, o, '/s');
    ctx.row({ metric: label, unit: '/s', values: { [COLUMN]: o }, reference: r });
  }
}
