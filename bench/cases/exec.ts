/**
 * Exec round trip: `true` run in one daemon-managed busybox container,
 * ours through lib/client (POST exec + websockets + operation wait) and
 * through `node bin/incus exec`, next to the floor, raw `lxc-attach -P
 * <lxcpath> -n <name> -- true` on the same container. Raw and CLI samples
 * are timed inside one bash loop each ($EPOCHREALTIME around every
 * command), so neither pays for a spawn from Node; the three sides take
 * turns batch by batch. Also: 100 execs at once, wall time.
 */

import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execInstance } from '../../lib/client';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { targetNote } from '../lib/target';
import { daemonWithContainer, type IncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

/** Commands per batch; batches alternate between the sides. */
const BATCH = 10;
/** Execs started at once for the concurrency figure. */
const CONCURRENT = 100;

const COLUMNS = { api: 'ours (API)', cli: 'ours (CLI)' } as const;

/** Output is not the point here: drop it. */
function sink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/**
 * Runs `cmd` `count` times from one bash process; returns each run's
 * milliseconds (bash's own clock, no fork around the measurement).
 */
async function bashLoop(ctx: BenchContext, count: number, cmd: string, env?: NodeJS.ProcessEnv): Promise<number[]> {
  const err = path.join(await ctx.tmpDir('bench-exec-err-'), 'stderr');
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

/** Milliseconds for `count` commands started together from one bash (its own clock). */
async function bashParallel(ctx: BenchContext, count: number, cmd: string): Promise<number> {
  const script = `s=$EPOCHREALTIME; for i in $(seq ${count}); do ${cmd} >/dev/null 2>&1 </dev/null & done; fail=0; for j in $(jobs -p); do wait $j || fail=1; done; e=$EPOCHREALTIME; [ $fail = 0 ] || { echo "a command failed" >&2; exit 1; }; echo "$s $e"`;
  const r = await ctx.exec('bash', ['-c', script]);
  const [s, e] = r.stdout.trim().split(' ').map(Number);
  return (e - s) * 1000;
}

async function apiTrue(daemon: IncusDaemon, name: string): Promise<void> {
  const r = await execInstance(daemon.client, name, { command: ['true'] }, { stdout: sink(), stderr: sink() });
  if (r.code !== 0) throw new Error(`exec true returned ${r.code}`);
}

export const name = 'exec';

export async function run(ctx: BenchContext): Promise<void> {
  const work = await ctx.tmpDir('bench-exec-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const ct = `bench-exec-${process.pid}`;
  const daemon = await daemonWithContainer(ctx, image.path, ct);
  const lxcpath = path.join(daemon.dir, 'containers');
  const raw = `lxc-attach -P ${lxcpath} -n ${ct} -- true`;
  const haveCli = fs.existsSync(path.join(ctx.repoRoot, 'bin', 'incus'));
  const cli = `${process.execPath} ${path.join(ctx.repoRoot, 'bin', 'incus')} exec ${ct} -- true`;
  if (!haveCli) ctx.note('CLI column skipped: bin/incus does not exist yet');

  const samples = { raw: [] as number[], api: [] as number[], cli: [] as number[] };
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const measured = i >= ctx.warmup;
    ctx.log(`${measured ? 'batch' : 'warm-up'} ${measured ? i - ctx.warmup + 1 : i + 1} (${BATCH} execs per side)`);
    const rawMs = await bashLoop(ctx, BATCH, raw);
    const apiMs: number[] = [];
    for (let k = 0; k < BATCH; k++) apiMs.push(await timeMs(() => apiTrue(daemon, ct)));
    const cliMs = haveCli ? await bashLoop(ctx, BATCH, cli, daemon.env) : [];
    if (!measured) continue;
    samples.raw.push(...rawMs);
    samples.api.push(...apiMs);
    samples.cli.push(...cliMs);
  }

  const rawPar = await bashParallel(ctx, CONCURRENT, raw);
  const apiPar = await timeMs(() => Promise.all(Array.from({ length: CONCURRENT }, () => apiTrue(daemon, ct))));

  ctx.legend(`reference: raw liblxc: \`lxc-attach -P <lxcpath> -n <name> -- true\` on the same daemon-managed container, from a bash loop`);
  ctx.column(COLUMNS.api, 'incusd via lib/client: POST /1.0/instances/<name>/exec (wait-for-websocket) + websockets 0, 1, 2 (no control needed) + operation wait');
  if (haveCli) ctx.column(COLUMNS.cli, '`node bin/incus exec <name> -- true` from a bash loop (Node start-up included)');
  ctx.legend(`medians of ${samples.raw.length} execs per side (${ctx.runs} batches of ${BATCH}, after ${ctx.warmup} warm-up batch); sides alternate batch by batch; unprivileged, idmap, no NIC`);

  const ref = median(samples.raw);
  const api = median(samples.api);
  ctx.metric('exec.true.raw', ref, 'ms');
  ctx.metric('exec.true.api', api, 'ms');
  const values: Record<string, number | undefined> = { [COLUMNS.api]: api };
  if (haveCli) {
    const c = median(samples.cli);
    ctx.metric('exec.true.cli', c, 'ms');
    values[COLUMNS.cli] = c;
  }
  ctx.metric('exec.true.api_ratio', api / ref, 'x');
  ctx.row({ metric: 'exec true (round trip)', unit: 'ms', values, reference: ref });

  ctx.metric(`exec.concurrent${CONCURRENT}.raw`, rawPar, 'ms');
  ctx.metric(`exec.concurrent${CONCURRENT}.api`, apiPar, 'ms');
  ctx.row({ metric: `${CONCURRENT} x exec true at once (wall)`, unit: 'ms', values: { [COLUMNS.api]: apiPar }, reference: rawPar });
  targetNote(ctx, 'API exec ≤ 2× raw lxc-attach', api / ref <= 2, `${(api / ref).toFixed(2)}×`);
  await daemon.stop();
}
