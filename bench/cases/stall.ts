/**
 * Slow stops against API latency: BENCH_STALL_COUNT (default 40) busybox
 * containers whose init reboots on its halt signal (raw.lxc
 * lxc.signal.halt=SIGTERM) are stopped cleanly all at once, and
 * `GET /1.0/instances?recursion=2` is timed back to back meanwhile, next to
 * the same call on the idle daemon. Target: the listing stays ≤ 200 ms
 * during the stops (no native wait may hold libuv's pool).
 */

import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { IncusFleet } from '../lib/fleet';
import { startIncusDaemon } from '../lib/incus-daemon';
import { targetNote } from '../lib/target';
import { median, timeMs } from '../lib/stats';

const COLUMNS = { idle: 'idle', stopping: 'during the stops' } as const;
/** The listing's bound during the stops, in ms. */
const TARGET_MS = 200;
/** Long enough that no stop times out: each must end by killing the rebooted init. */
const STOP_TIMEOUT_S = 120;

/** How many containers to stop at once (BENCH_STALL_COUNT). */
export function stallCount(raw: string | undefined): number {
  const n = raw === undefined || raw.trim() === '' ? 40 : Number(raw.trim());
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`BENCH_STALL_COUNT must be a positive integer, got "${raw}"`);
  return n;
}

export const name = 'stall';

export async function run(ctx: BenchContext): Promise<void> {
  const count = stallCount(process.env.BENCH_STALL_COUNT);
  const work = await ctx.tmpDir('bench-stall-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  const c = daemon.client;
  const fleet = new IncusFleet(ctx, daemon, `bench-stall-${process.pid}`, { 'raw.lxc': 'lxc.signal.halt=SIGTERM' });

  ctx.column(COLUMNS.idle, 'GET /1.0/instances?recursion=2 through lib/client with every container running, nothing else going on');
  ctx.column(COLUMNS.stopping, `the same call back to back while ${count} clean stops (init reboots instead of halting, so each ends with a kill) run at once`);
  ctx.legend(`${count} busybox containers with raw.lxc lxc.signal.halt=SIGTERM; idle: ${ctx.runs} runs after ${ctx.warmup} warm-up; target: max ≤ ${TARGET_MS} ms during the stops`);

  const t0 = Date.now();
  await fleet.grow(count);
  ctx.log(`${count} running (launched in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const names = fleet.names.slice();

  const idle: number[] = [];
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    const ms = await timeMs(() => c.getInstances(2));
    if (i >= ctx.warmup) idle.push(ms);
  }

  let done = false;
  const s0 = Date.now();
  const stops = Promise.all(
    names.map(async (n) => (await c.updateInstanceState(n, { action: 'stop', timeout: STOP_TIMEOUT_S })).wait()),
  ).finally(() => (done = true));
  stops.catch(() => undefined);
  const busy: number[] = [];
  while (!done) busy.push(await timeMs(() => c.getInstances(2)));
  await stops;
  const stopSec = (Date.now() - s0) / 1000;
  ctx.log(`${count} stops took ${stopSec.toFixed(1)} s; ${busy.length} listings meanwhile`);

  const max = (a: number[]): number => Math.max(...a);
  ctx.metric('stall.idle.median', median(idle), 'ms');
  ctx.metric('stall.idle.max', max(idle), 'ms');
  ctx.metric('stall.stopping.median', median(busy), 'ms');
  ctx.metric('stall.stopping.max', max(busy), 'ms');
  ctx.metric('stall.stops', stopSec, 's');
  ctx.row({ metric: `list, median, ${count} running`, unit: 'ms', values: { [COLUMNS.idle]: median(idle), [COLUMNS.stopping]: median(busy) } });
  ctx.row({ metric: `list, max, ${count} running`, unit: 'ms', values: { [COLUMNS.idle]: max(idle), [COLUMNS.stopping]: max(busy) } });
  ctx.note(`${count} clean stops at once took ${stopSec.toFixed(1)} s; ${busy.length} listings were timed meanwhile`);
  targetNote(ctx, `API list during ${count} slow stops ≤ ${TARGET_MS} ms`, max(busy) <= TARGET_MS, `max ${max(busy).toFixed(0)} ms, median ${median(busy).toFixed(0)} ms`);
  await fleet.close();
  await daemon.stop();
}
