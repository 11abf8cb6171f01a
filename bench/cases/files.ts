/**
 * File transfer throughput: push and pull of one 64 MiB random file into
 * and out of a daemon-managed busybox container, ours through lib/client
 * (POST/GET /1.0/instances/<name>/files, streamed) and through
 * `node bin/incus file push|pull`, next to the floor: `lxc-attach -- cat`
 * with the host file as cat's stdin/stdout, so the bytes go straight from
 * one file to the other through the page cache (the least any in-container
 * write can cost). Raw and CLI samples are timed inside one bash loop each
 * ($EPOCHREALTIME around every command); the three sides take turns.
 */

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { InstanceFiles } from '../../lib/client/files';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { targetNote } from '../lib/target';
import { daemonWithContainer } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';

/** The file moved each time. */
const SIZE = 64 * 1024 * 1024;
const MIB = SIZE / (1024 * 1024);

const COLUMNS = { api: 'ours (API)', cli: 'ours (CLI)' } as const;

type Side = 'raw' | 'api' | 'cli';
type Dir = 'push' | 'pull';

/** Milliseconds of one bash command, timed by bash itself (no fork around the measurement). */
async function bashTimed(ctx: BenchContext, cmd: string, env?: NodeJS.ProcessEnv): Promise<number> {
  const script = `s=$EPOCHREALTIME; ${cmd} || { echo "failed: $?" >&2; exit 1; }; e=$EPOCHREALTIME; echo "$s $e"`;
  const r = await ctx.exec('bash', ['-c', script], { env });
  const [s, e] = r.stdout.trim().split('\n').pop()!.split(' ').map(Number);
  return (e! - s!) * 1000;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Single-quoted for bash. */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export const name = 'files';

export async function run(ctx: BenchContext): Promise<void> {
  const work = await ctx.tmpDir('bench-files-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const ct = `bench-files-${process.pid}`;
  const daemon = await daemonWithContainer(ctx, image.path, ct);
  const lxcpath = path.join(daemon.dir, 'containers');
  const incus = `${q(process.execPath)} ${q(path.join(ctx.repoRoot, 'bin', 'incus'))}`;
  const haveCli = fs.existsSync(path.join(ctx.repoRoot, 'bin', 'incus'));
  if (!haveCli) ctx.note('CLI column skipped: bin/incus does not exist yet');

  const src = path.join(work, 'src');
  fs.writeFileSync(src, randomBytes(SIZE));
  const want = sha256(src);
  const dst = path.join(work, 'dst');
  const attach = `lxc-attach -P ${q(lxcpath)} -n ${q(ct)} --`;
  const files = new InstanceFiles(daemon.client);

  const steps: Record<Side, Record<Dir, () => Promise<number>>> = {
    raw: {
      push: () => bashTimed(ctx, `${attach} sh -c 'cat > /root/raw' < ${q(src)}`),
      pull: () => bashTimed(ctx, `${attach} cat /root/raw > ${q(dst)}`),
    },
    api: {
      push: () => timeMs(() => files.push(ct, '/root/api', { content: fs.createReadStream(src, { highWaterMark: 1 << 20 }), size: SIZE })),
      pull: () =>
        timeMs(async () => {
          const got = await files.get(ct, '/root/api');
          if (got.type === 'directory') throw new Error('/root/api is a directory');
          await pipeline(got.stream, fs.createWriteStream(dst, { highWaterMark: 1 << 20 }));
        }),
    },
    cli: {
      push: () => bashTimed(ctx, `${incus} file push ${q(src)} ${q(`${ct}/root/cli`)}`, daemon.env),
      pull: () => bashTimed(ctx, `${incus} file pull ${q(`${ct}/root/cli`)} ${q(dst)}`, daemon.env),
    },
  };
  const sides: Side[] = haveCli ? ['raw', 'api', 'cli'] : ['raw', 'api'];
  const samples = new Map<string, number[]>();
  const cliStart: number[] = [];
  const nodeStart: number[] = [];

  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const measured = i >= ctx.warmup;
    ctx.log(`${measured ? 'run' : 'warm-up'} ${measured ? i - ctx.warmup + 1 : i + 1}`);
    for (const side of sides) {
      for (const dir of ['push', 'pull'] as const) {
        fs.rmSync(dst, { force: true });
        const ms = await steps[side][dir]();
        // Untimed: the bytes that came back are the ones that went in.
        if (i === 0 && dir === 'pull' && sha256(dst) !== want) throw new Error(`${side} pull returned different bytes`);
        if (measured) samples.set(`${side}.${dir}`, [...(samples.get(`${side}.${dir}`) ?? []), ms]);
      }
    }
    // What every CLI figure pays before moving a byte.
    if (haveCli && measured) {
      cliStart.push(await bashTimed(ctx, `${incus} version > /dev/null`, daemon.env));
      nodeStart.push(await bashTimed(ctx, `${process.execPath} -e 0`, daemon.env));
    }
  }
  files.close();

  ctx.legend("reference: raw liblxc: `lxc-attach -P <lxcpath> -n <name> -- sh -c 'cat > F' < host-file` (push) and `-- cat F > host-file` (pull), from bash");
  ctx.column(COLUMNS.api, 'incusd via lib/client: POST / GET /1.0/instances/<name>/files, streamed from / to a host file');
  if (haveCli) ctx.column(COLUMNS.cli, '`node bin/incus file push|pull` from bash (Node start-up and the SFTP metadata session included)');
  ctx.legend(`one ${MIB} MiB random file; medians of ${ctx.runs} runs (after ${ctx.warmup} warm-up); sides alternate; unprivileged, idmapped rootfs on a dir pool`);
  ctx.legend('MiB/s rows: higher is better, so there a ratio above 1 beats the floor');
  if (haveCli) {
    const start = median(cliStart);
    ctx.metric('files.cli.startup', start, 'ms');
    ctx.legend(`the CLI column includes Node start-up: \`incus version\` alone takes ${start.toFixed(0)} ms here, bare \`node -e 0\` ${median(nodeStart).toFixed(0)} ms`);
  }

  for (const dir of ['push', 'pull'] as const) {
    const ref = median(samples.get(`raw.${dir}`)!);
    const ms: Record<string, number | undefined> = {};
    const rate: Record<string, number | undefined> = {};
    ctx.metric(`files.${dir}.raw`, ref, 'ms');
    ctx.metric(`files.${dir}.raw.rate`, MIB / (ref / 1000), 'MiB/s');
    for (const side of sides.filter((s) => s !== 'raw')) {
      const m = median(samples.get(`${side}.${dir}`)!);
      const col = COLUMNS[side as 'api' | 'cli'];
      ms[col] = m;
      rate[col] = MIB / (m / 1000);
      ctx.metric(`files.${dir}.${side}`, m, 'ms');
      ctx.metric(`files.${dir}.${side}.rate`, MIB / (m / 1000), 'MiB/s');
    }
    ctx.row({ metric: `${dir} ${MIB} MiB`, unit: 'ms', values: ms, reference: ref });
    ctx.row({ metric: `${dir} throughput`, unit: 'MiB/s', values: rate, reference: MIB / (ref / 1000) });
    for (const [col, r] of Object.entries(rate)) {
      if (r === undefined) continue;
      let why = '';
      const api = ms[COLUMNS.api];
      if (col === COLUMNS.cli && api !== undefined) {
        // One process per transfer: Node's own start-up comes on top of the API's transfer time.
        const ceiling = MIB / ((median(nodeStart) + api) / 1000);
        why = `; a CLI run pays bare Node start-up (${median(nodeStart).toFixed(0)} ms) before the API's ${api.toFixed(0)} ms transfer, so even a CLI with no code of its own would reach only ${ceiling.toFixed(0)} MiB/s on ${MIB} MiB`;
      }
      targetNote(ctx, `${col} ${dir} ≥ 400 MiB/s`, r >= 400, `${r.toFixed(0)} MiB/s`, why.replace(/^; /, ''));
    }
  }
  await daemon.stop();
}
