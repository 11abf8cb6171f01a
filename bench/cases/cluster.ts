/**
 * A three-member cluster next to a standalone daemon, in one run (issue 20):
 * N busybox containers (BENCH_CLUSTER_COUNT, default 200) launched through
 * one daemon 8 at a time, then `GET /1.0/instances` (names, and
 * recursion=1 with each one's state) on that daemon. On the cluster the
 * daemon asked is m1 of the testbed (scripts/cluster-testbed.sh, members
 * in network namespaces of their own): the scheduler spreads the
 * containers over the three members, m1 passes each creation on to the
 * member chosen, and a list merges the other members' answers.
 */

import fs from 'node:fs';
import path from 'node:path';
import { IncusClient } from '../../lib/client/client';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { IncusFleet } from '../lib/fleet';
import { BENCH_IMAGE_ALIAS, type IncusDaemon, startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

export const name = 'cluster';

const STANDALONE = 'standalone';
const CLUSTER = '3-member cluster';
const ADDR = (i: number): string => `10.203.0.${10 + i}:8443`;

interface Measured {
  launchMs: number[];
  totalMs: number;
  names: number[];
  full: number[];
  spread: string;
}

async function measure(ctx: BenchContext, client: IncusClient, fleet: IncusFleet, count: number): Promise<Measured> {
  const launchMs: number[] = [];
  const t0 = Date.now();
  await fleet.grow(count, (_, ms) => launchMs.push(ms));
  const totalMs = Date.now() - t0;
  const names: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    let got = 0;
    const a = await timeMs(async () => {
      got = (await client.getInstances(0)).length;
    });
    const b = await timeMs(async () => {
      got = Math.min(got, (await client.getInstances(1)).length);
    });
    if (got !== count) throw new Error(`GET /1.0/instances returned ${got} instances, expected ${count}`);
    if (i >= ctx.warmup) {
      names.push(a);
      full.push(b);
    }
  }
  const where = new Map<string, number>();
  for (const inst of await client.getInstances(1)) where.set(inst.location, (where.get(inst.location) ?? 0) + 1);
  const spread = [...where].sort().map(([m, n]) => `${m}: ${n}`).join(', ');
  return { launchMs, totalMs, names, full, spread };
}

/** The testbed's three members clustered, with a dir pool and the image; resolves to m1's socket. */
async function startCluster(ctx: BenchContext, image: string): Promise<string> {
  const script = path.join(ctx.repoRoot, 'scripts', 'cluster-testbed.sh');
  const dir = path.join(await ctx.tmpDir('bench-cluster-'), 'tb');
  ctx.defer('cluster testbed', async () => {
    await ctx.exec('bash', [script, 'down', '--dir', dir], { allowFail: true, timeoutMs: 300_000 });
  });
  await ctx.exec('bash', [script, 'up', '3', '--dir', dir, '--prefix', `bcl${process.pid}`], { timeoutMs: 300_000 });
  const run = (i: number, args: string[], input?: string) =>
    ctx.exec('bash', [script, 'exec', String(i), '--dir', dir, '--', 'incus', ...args], { input, timeoutMs: 300_000 });
  await run(1, ['config', 'set', `core.https_address=${ADDR(1)}`]);
  await run(1, ['storage', 'create', 'default', 'dir']);
  await run(1, ['profile', 'device', 'add', 'default', 'root', 'disk', 'path=/', 'pool=default']);
  await run(1, ['image', 'import', image, '--alias', BENCH_IMAGE_ALIAS]);
  await run(1, ['cluster', 'enable', 'm1']);
  for (const i of [2, 3]) {
    const token = (await run(1, ['cluster', 'add', `m${i}`])).stdout.trim().split('\n').pop()!;
    await run(i, ['admin', 'init', '--preseed'], `cluster:\n  enabled: true\n  server_address: ${ADDR(i)}\n  cluster_token: ${token}\n`);
  }
  return path.join(dir, 'm1', 'unix.socket');
}

export async function run(ctx: BenchContext): Promise<void> {
  const count = Number(process.env.BENCH_CLUSTER_COUNT ?? 200);
  const work = await ctx.tmpDir('bench-cluster-img-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  ctx.column(STANDALONE, 'one incusd (SQLite), via lib/client on its unix socket');
  ctx.column(CLUSTER, 'three incusd members on dqlite in the testbed, via lib/client on m1\'s unix socket; placement by the scheduler');
  ctx.legend(`${count} busybox containers launched (create + start) 8 at a time on each side, the standalone side first and deleted before the cluster's; list: medians of ${ctx.runs} calls after ${ctx.warmup} warm-up; lower is better`);

  const results: Record<string, Measured> = {};
  const daemon = await startIncusDaemon(ctx, image.path);
  const solo = new IncusFleet(ctx, daemon, `bcs-${process.pid}`);
  results[STANDALONE] = await measure(ctx, daemon.client, solo, count);
  ctx.log(`standalone: ${count} launched in ${(results[STANDALONE].totalMs / 1000).toFixed(1)} s`);
  await solo.deleteAll();
  await daemon.stop();

  const socket = await startCluster(ctx, image.path);
  if (!fs.existsSync(socket)) throw new Error(`no socket at ${socket}`);
  const client = new IncusClient({ socketPath: socket });
  const viaM1 = { client } as unknown as IncusDaemon;
  const spread = new IncusFleet(ctx, viaM1, `bcc-${process.pid}`);
  results[CLUSTER] = await measure(ctx, client, spread, count);
  ctx.log(`cluster: ${count} launched in ${(results[CLUSTER].totalMs / 1000).toFixed(1)} s (${results[CLUSTER].spread})`);
  await spread.deleteAll();
  client.close();

  const row = (metric: string, unit: string, pick: (m: Measured) => number): void => {
    const values = { [STANDALONE]: pick(results[STANDALONE]), [CLUSTER]: pick(results[CLUSTER]) };
    ctx.row({ metric, unit, values });
    ctx.metric(`cluster.${metric}.standalone`, values[STANDALONE], unit);
    ctx.metric(`cluster.${metric}.cluster`, values[CLUSTER], unit);
  };
  row(`${count} launches, 8 at a time`, 's', (m) => m.totalMs / 1000);
  row('launch, median', 'ms', (m) => median(m.launchMs));
  row(`GET /1.0/instances (names), ${count} running`, 'ms', (m) => median(m.names));
  row(`GET /1.0/instances?recursion=1 (with state), ${count} running`, 'ms', (m) => median(m.full));
  ctx.note(`where the cluster's containers ran: ${results[CLUSTER].spread}`);
}
