/**
 * Container lifecycle: medians of launch (create+start from a cached
 * image), start, stop (clean), stop --force, restart --force and
 * delete --force (of a running container), ours (API and CLI) against the
 * raw liblxc floor on the same busybox rootfs, and LXD when installed.
 * Each run cycles launch, restart, stop, start, stop --force, start,
 * delete on every driver in turn, so all sides see the same machine load;
 * both starts are samples.
 */

import fs from 'node:fs';
import path from 'node:path';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext, Unavailable } from '../lib/case';
import { targetNote } from '../lib/target';
import { IncusDaemon, startIncusDaemon } from '../lib/incus-daemon';
import { IncusApiDriver, IncusCliDriver } from '../lib/incus-drivers';
import type { LifecycleDriver } from '../lib/lifecycle-driver';
import { LxdDriver } from '../lib/lxd-driver';
import { RawLxcDriver } from '../lib/raw-lxc';
import { median, timeMs } from '../lib/stats';

/** Metric key (lifecycle.<op>.<label>) to table row label, in table order. */
const OPS = {
  launch: 'launch',
  start: 'start',
  stop: 'stop',
  stop_force: 'stop --force',
  restart: 'restart --force',
  delete_force: 'delete --force',
} as const;
type Op = keyof typeof OPS;
type Samples = Record<Op, number[]>;

/** The targets for the API column, as the most times the floor. */
const TARGETS: Partial<Record<Op, number>> = { launch: 1.5, start: 2, stop_force: 3, delete_force: 3 };

/** Column names in RESULTS.md for each non-floor driver. */
const COLUMN: Record<string, string> = { api: 'ours (API)', cli: 'ours (CLI)', lxd: 'LXD' };

function emptySamples(): Samples {
  return { launch: [], start: [], stop: [], stop_force: [], restart: [], delete_force: [] };
}

/**
 * launch, restart --force, stop, start, stop --force, start, delete --force
 * on `name`, timing each step into `into`. With `verify`, checks (untimed)
 * after each step that the container really is running or stopped, so a
 * driver cannot win by answering early.
 */
async function cycle(ctx: BenchContext, d: LifecycleDriver, name: string, into: Samples | undefined, verify: boolean): Promise<void> {
  const step = async (op: Op, fn: () => Promise<void>, running?: boolean): Promise<void> => {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const ms = await timeMs(fn);
    into?.[op].push(ms);
    if (verify && running !== undefined && (await d.isRunning(name)) !== running) {
      throw new Error(`${d.label}: ${name} is ${running ? 'not running' : 'still running'} after ${OPS[op]}`);
    }
  };
  await step('launch', () => d.launch(name), true);
  await step('restart', () => d.restartForce(name), true);
  await step('stop', () => d.stop(name), false);
  await step('start', () => d.start(name), true);
  await step('stop_force', () => d.stopForce(name), false);
  await step('start', () => d.start(name), true);
  await step('delete_force', () => d.deleteForce(name));
}

/** Our daemon's drivers, or none (with a note saying why). */
async function oursDrivers(ctx: BenchContext, image: string): Promise<LifecycleDriver[]> {
  let daemon: IncusDaemon;
  try {
    daemon = await startIncusDaemon(ctx, image);
  } catch (err) {
    ctx.note(err instanceof Unavailable ? err.message : `incus side skipped: the daemon did not come up: ${(err as Error).message.split('\n').slice(0, 3).join(' / ')}`);
    return [];
  }
  ctx.log(`incusd pid ${daemon.pid} on ${daemon.dir}`);
  const drivers: LifecycleDriver[] = [new IncusApiDriver(daemon)];
  if (fs.existsSync(path.join(ctx.repoRoot, 'bin', 'incus'))) {
    drivers.push(new IncusCliDriver(ctx, daemon));
  } else {
    ctx.note('CLI column skipped: bin/incus does not exist yet');
  }
  return drivers;
}

async function lxdDrivers(ctx: BenchContext, image: string): Promise<LifecycleDriver[]> {
  try {
    return [await LxdDriver.open(ctx, image)];
  } catch (err) {
    ctx.note(err instanceof Unavailable ? err.message : `lxd column skipped: ${(err as Error).message.split('\n')[0]}`);
    return [];
  }
}

export const name = 'lifecycle';

export async function run(ctx: BenchContext): Promise<void> {
  const work = await ctx.tmpDir('bench-lifecycle-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  ctx.log(`image ${image.path} (${image.sha256.slice(0, 12)}, ${image.size} bytes)`);
  const lxcpath = path.join(work, 'lxc');
  fs.mkdirSync(lxcpath, { mode: 0o755 });

  const raw = new RawLxcDriver(ctx, lxcpath, image.path);
  const peers = [...(await oursDrivers(ctx, image.path)), ...(await lxdDrivers(ctx, image.path))];
  const samples = new Map<string, Samples>([[raw.label, emptySamples()], ...peers.map((p): [string, Samples] => [p.label, emptySamples()])]);
  const broken = new Set<string>();

  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    const measured = i >= ctx.warmup;
    ctx.log(`${measured ? 'run' : 'warm-up'} ${measured ? i - ctx.warmup + 1 : i + 1}`);
    for (const d of [raw, ...peers]) {
      if (broken.has(d.label)) continue;
      const into = measured ? samples.get(d.label) : undefined;
      try {
        await cycle(ctx, d, `bench-${d.label}-${process.pid}-${i}`, into, i === 0);
      } catch (err) {
        if (d === raw || ctx.signal.aborted) throw err;
        broken.add(d.label);
        ctx.note(`${COLUMN[d.label] ?? d.label} stopped after ${measured ? 'run' : 'warm-up'} ${i + 1}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
  }
  for (const d of [raw, ...peers]) await d.close();

  ctx.legend(`reference: ${raw.description}`);
  for (const p of peers) {
    if (samples.get(p.label)?.launch.length) ctx.column(COLUMN[p.label] ?? p.label, p.description);
  }
  ctx.legend(`medians of ${ctx.runs} runs (after ${ctx.warmup} warm-up); start has two samples per run (after stop and after stop --force); `
    + 'restart is forced on every side (kill + start); delete --force deletes a running container; unprivileged, idmap=container, no NIC on every side');
  const api = COLUMN.api;
  for (const [op, label] of Object.entries(OPS) as [Op, string][]) {
    const ref = median(samples.get(raw.label)?.[op] ?? []);
    ctx.metric(`lifecycle.${op}.raw`, ref, 'ms');
    const values: Record<string, number | undefined> = {};
    for (const p of peers) {
      const s = samples.get(p.label)?.[op] ?? [];
      if (s.length === 0) continue;
      const m = median(s);
      values[COLUMN[p.label] ?? p.label] = m;
      ctx.metric(`lifecycle.${op}.${p.label}`, m, 'ms');
      ctx.metric(`lifecycle.${op}.${p.label}.ratio`, m / ref, 'x');
    }
    ctx.row({ metric: label, unit: 'ms', values, reference: ref });
    const target = TARGETS[op];
    const ours = values[api];
    if (target !== undefined && ours !== undefined) {
      const r = ours / ref;
      targetNote(ctx, `${label} ≤ ${target}× the floor (${api})`, r <= target, `${r.toFixed(2)}×`);
    }
  }
}
