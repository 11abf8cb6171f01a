/**
 * Container copy between two local daemons next to a raw rsync of the same
 * tree, same run: a stopped busybox container on daemon A holding
 * BENCH_MIGRATION_MIB (default 200) MiB of incompressible data in a few
 * dozen files is copied to daemon B through lib/client's migrateInstance in
 * pull mode (B dials A's operation on A's core.https_address, 127.0.0.1,
 * with A's certificate pinned; `incus copy c1 b: --stateless
 * --instance-only` does the same), and the copy deleted; the floor is
 * `rsync -a` of A's rootfs, with the metadata flags the migration's sender
 * uses, into a fresh directory on the same filesystem, then removed. A
 * third side copies with `rsync.compression=false` on A's pool, where the
 * daemon accepts the key. A fourth side is the transport's own floor:
 * the same rsync through one TLS link on 127.0.0.1 with no daemon at all
 * (socat OPENSSL-LISTEN running `rsync --server` as the daemon runs it,
 * socat OPENSSL as rsync's remote shell), so that the copy can be read
 * against what any TLS transport costs here. Two more sides are rsync's
 * own network mode, the floor of every transport: the same sender talking
 * to `rsync --daemon` on 127.0.0.1 over a bare TCP socket, with the
 * features each copy negotiates (compressed, and not). The order of the
 * sides rotates round by round, with `sync` before each.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Instance, InstancesPost } from '../../lib/api/instance';
import { migrateInstance } from '../../lib/client/migration';
import { getStoragePool, updateStoragePool } from '../../lib/client/storage';
import { buildBusyboxImage } from '../../lib/image-builder';
import { RECEIVER_CAPS, rsyncFeatureArgs } from '../../lib/server/migration/rsync';
import { BenchContext } from '../lib/case';
import { positiveCount } from '../lib/env-count';
import { freeLocalPort } from '../lib/free-port';
import { measureNodeTlsLink } from '../lib/node-tls-link';
import { listeningOn, startRsyncDaemon } from '../lib/rsync-daemon';
import { BENCH_IMAGE_ALIAS, IncusDaemon, startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';
import { targetNote } from '../lib/target';

/** The issue's target: the copy at least this fraction of raw rsync's MiB/s. */
export const MIGRATION_TARGET_RATIO = 0.7;
/** At most this many data files ("a few dozen"). */
const MAX_FILES = 40;
const MIB = 1024 * 1024;
const NAME = 'c1';
const COLUMN = 'incus copy';
const COLUMN_UNCOMPRESSED = 'incus copy, rsync.compression=false';
const COLUMN_TLS = 'rsync over one TLS link (socat), no daemon';
const COLUMN_TCP = 'rsync over bare TCP (rsync --daemon)';
const COLUMN_TCP_COMPRESSED = 'rsync over bare TCP (rsync --daemon), compressed';
/** The features an uncompressed copy between two dir pools negotiates (rsync.ts's rsyncFeatureArgs). */
const TLS_FEATURES = ['xattrs', 'delete'];
/** ...and a copy with both pools at their defaults. */
const COMPRESSED_FEATURES = [...TLS_FEATURES, 'compress'];
/** socat's buffer: its default of 8 KiB would make it the bottleneck. */
const SOCAT_BUFFER = String(256 * 1024);

/** Data to put in the container, in MiB (BENCH_MIGRATION_MIB, default 200). */
export function migrationMib(raw: string | undefined): number {
  return positiveCount('BENCH_MIGRATION_MIB', raw, 200);
}

/** Sizes in bytes of the data files holding `mib` MiB: up to {@link MAX_FILES}, whole MiB each, the first ones one MiB larger. */
export function dataFileSizes(mib: number): number[] {
  const n = Math.min(MAX_FILES, mib);
  const base = Math.floor(mib / n);
  return Array.from({ length: n }, (_, i) => (base + (i < mib % n ? 1 : 0)) * MIB);
}

/**
 * The measured sides: raw rsync, the copy as configured by default, the
 * copy with `rsync.compression=false`, rsync over one TLS link, rsync over
 * bare TCP without and with compression.
 */
export const MIGRATION_SIDES = ['rsync', 'copy', 'copy-uncompressed', 'rsync-tls', 'rsync-tcp', 'rsync-tcp-compressed'] as const;
export type MigrationSide = (typeof MIGRATION_SIDES)[number];
/** The sides that copy through the daemons (the target applies to them). */
type CopySide = 'copy' | 'copy-uncompressed';
/** For each copy, rsync's own network mode with the same features: the floor of its transport. */
const TCP_FLOOR: Record<CopySide, 'rsync-tcp' | 'rsync-tcp-compressed'> = { copy: 'rsync-tcp-compressed', 'copy-uncompressed': 'rsync-tcp' };

/** The order of the sides in round `i`: rotated each round so that none always runs first or last. */
export function migrationSidesInOrder(i: number): MigrationSide[] {
  const k = i % MIGRATION_SIDES.length;
  return [...MIGRATION_SIDES.slice(k), ...MIGRATION_SIDES.slice(0, k)];
}

/** MiB/s of moving `bytes` in `ms`. */
export function mibPerSecond(bytes: number, ms: number): number {
  return bytes / MIB / (ms / 1000);
}

/** The copy's rate over raw rsync's, and whether it reaches {@link MIGRATION_TARGET_RATIO}. */
export function migrationVerdict(rsyncMibs: number, copyMibs: number): { ratio: number; met: boolean } {
  const ratio = copyMibs / rsyncMibs;
  return { ratio, met: ratio >= MIGRATION_TARGET_RATIO };
}

/** What a copy that missed the target spent, measured in the same run, for its note. */
interface MissFigures {
  /** Daemon A's and B's CPU ms/MiB above Node's TLS sender and receiver alone. */
  relayA: number;
  relayB: number;
  /** Share of all cores the processes kept busy over the copy's wall time. */
  busy: number;
  compressed: boolean;
}

/** Why a copy missed the target, from its figures. */
export function whyMissed(f: MissFigures): string {
  return [
    'the daemons frame rsync\'s stream themselves (netcat hands rsync\'s ends over and the sender reads them straight into frames of 256 to 512 KiB; the receiver reads TLS records into pooled buffers and writes frame payloads from there to rsync)',
    `above what Node's TLS alone costs, daemon A still spends ${f.relayA.toFixed(2)} and B ${f.relayB.toFixed(2)} CPU ms/MiB (reading and writing rsync's sockets, system calls and context switches, which are costly in this paravirtualised guest)`,
    `rsync over a stream costs more than local rsync${f.compressed ? ', and with compression negotiated rsync compresses incompressible data' : ''}`,
    `the processes keep the cores ${(f.busy * 100).toFixed(0)}% busy (rsync's round trips), so the copy runs under the bound below`,
  ].join('; ');
}

/** CPU seconds one timed side used, by process: daemon A and B themselves, their reaped children, and children of the bench (the raw rsync). */
interface CpuUse {
  aSelf: number;
  aChildren: number;
  bSelf: number;
  bChildren: number;
  local: number;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds of a process: its own, and its reaped descendants' (rsync, netcat). */
export interface CpuSeconds {
  self: number;
  children: number;
}

/** Parses /proc/PID/stat's utime+stime and cutime+cstime (fields 14-17; the command name may hold spaces). */
export function parseProcStatCpu(stat: string): CpuSeconds {
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  const t = (n: number): number => Number(f[n - 3]);
  return { self: (t(14) + t(15)) / USER_HZ, children: (t(16) + t(17)) / USER_HZ };
}

function cpuOf(pid: number | 'self'): CpuSeconds {
  return parseProcStatCpu(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The migration sender's rsync flags for a local copy (lib/server/migration/rsync.ts: -ar --devices --numeric-ids --partial --sparse, xattrs). */
export const RSYNC_FLOOR_ARGS: readonly string[] = ['-a', '--devices', '--numeric-ids', '--partial', '--sparse', '--xattrs', '--filter=-x security.selinux'];

/** Puts the daemon on 127.0.0.1:<free port>, so that the other one can dial its operations. */
async function listenHttps(d: IncusDaemon): Promise<void> {
  const port = await freeLocalPort();
  const { value: server, etag } = await d.client.getServerWithEtag();
  await d.client.updateServer({ config: { ...server.config, 'core.https_address': `127.0.0.1:${port}` } }, { etag });
}

/** Writes incompressible files into `dir`, owned as the rootfs is (the container's mapped root). */
async function fillData(dir: string, sizes: readonly number[], uid: number, gid: number): Promise<void> {
  await fs.mkdir(dir);
  await fs.chown(dir, uid, gid);
  for (const [i, size] of sizes.entries()) {
    const file = path.join(dir, `blob-${String(i).padStart(2, '0')}`);
    const fh = await fs.open(file, 'w', 0o644);
    try {
      for (let left = size; left > 0; left -= MIB) await fh.write(randomBytes(Math.min(MIB, left)));
    } finally {
      await fh.close();
    }
    await fs.chown(file, uid, gid);
  }
}

/** The instance to create on the target: the source's, without its volatile keys (as `incus copy --stateless`). */
function copyRequest(entry: Instance): InstancesPost {
  return {
    name: entry.name,
    type: entry.type,
    architecture: entry.architecture,
    config: Object.fromEntries(Object.entries(entry.config).filter(([k]) => !k.startsWith('volatile.'))),
    devices: entry.devices,
    profiles: entry.profiles,
    ephemeral: entry.ephemeral,
    description: entry.description,
    source: { type: 'migration' },
  };
}

async function bytesUnder(ctx: BenchContext, dir: string): Promise<number> {
  const r = await ctx.exec('du', ['-s', '-B1', '--apparent-size', dir]);
  return Number(r.stdout.split('\t')[0]);
}

/** Sets `rsync.compression` on the source's pool: the transfer compresses only when both pools offer it. */
async function setCompression(d: IncusDaemon, on: boolean): Promise<void> {
  const { value: pool, etag } = await getStoragePool(d.client, 'default');
  const config = { ...pool.config };
  if (on) delete config['rsync.compression'];
  else config['rsync.compression'] = 'false';
  await updateStoragePool(d.client, 'default', { config, description: pool.description }, { etag });
}

/**
 * rsync through one TLS link with no daemon: `socat OPENSSL-LISTEN` runs
 * the receiver as the daemon runs it (same capabilities and flags) for one
 * connection, and the sender's remote shell is `socat OPENSSL` to it.
 * `listen()` (untimed) starts the receiving end; `copy()` sends and waits
 * for both ends.
 */
async function tlsRsync(ctx: BenchContext, work: string, rootfs: string, dest: string): Promise<{ listen: () => Promise<void>; copy: () => Promise<void> }> {
  const cert = path.join(work, 'tls.crt');
  const key = path.join(work, 'tls.key');
  await ctx.exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=bench']);
  const receiver = path.join(work, 'tls-receiver.sh');
  const quoted = ['rsync', '--server', RECEIVER_CAPS, '--numeric-ids', '--devices', '--partial', '--sparse', '--modify-window=-1', ...rsyncFeatureArgs(TLS_FEATURES), '.', dest].map((a) => `'${a}'`);
  await fs.writeFile(receiver, `#!/bin/sh\nexec ${quoted.join(' ')}\n`, { mode: 0o755 });
  let port = 0;
  let server: Promise<number> | null = null;
  const listen = async (): Promise<void> => {
    port = await freeLocalPort();
    const child = spawn('socat', ['-b', SOCAT_BUFFER, `OPENSSL-LISTEN:${port},bind=127.0.0.1,reuseaddr,cert=${cert},key=${key},verify=0`, `EXEC:${receiver}`], { stdio: 'ignore' });
    server = new Promise((resolve) => child.once('close', (code) => resolve(code ?? -1)));
    for (let i = 0; i < 500 && !listeningOn(port); i++) await new Promise((r) => setTimeout(r, 10));
    if (!listeningOn(port)) throw new Error('socat did not listen');
  };
  const copy = async (): Promise<void> => {
    // rsync appends "HOST rsync --server ..." to the remote shell: sh -c drops them.
    const rsh = `sh -c 'exec socat -b ${SOCAT_BUFFER} - OPENSSL:127.0.0.1:${port},verify=0' rsh`;
    const args = ['-ar', '--devices', '--numeric-ids', '--partial', '--sparse', ...rsyncFeatureArgs(TLS_FEATURES), `${rootfs}/`, `localhost:${dest}`, '-e', rsh];
    await ctx.exec('rsync', args);
    const code = await server!;
    if (code !== 0) throw new Error(`socat receiver exited ${code}`);
  };
  return { listen, copy };
}

export const name = 'migration';

export async function run(ctx: BenchContext): Promise<void> {
  const mib = migrationMib(process.env.BENCH_MIGRATION_MIB);
  const work = await ctx.tmpDir('bench-migration-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const a = await startIncusDaemon(ctx, image.path);
  const b = await startIncusDaemon(ctx, image.path);
  ctx.log(`incusd A pid ${a.pid} on ${a.dir}, B pid ${b.pid} on ${b.dir}`);
  await listenHttps(a);
  await listenHttps(b);

  await (await a.client.createInstance({ name: NAME, source: { type: 'image', alias: BENCH_IMAGE_ALIAS } })).wait();
  const rootfs = path.join(a.dir, 'storage-pools', 'default', 'containers', NAME, 'rootfs');
  const owner = await fs.stat(rootfs);
  await fillData(path.join(rootfs, 'data'), dataFileSizes(mib), owner.uid, owner.gid);
  await ctx.exec('sync', []);
  const bytes = await bytesUnder(ctx, rootfs);
  ctx.log(`${NAME}'s rootfs: ${(bytes / MIB).toFixed(1)} MiB`);
  const req = copyRequest(await a.client.getInstance(NAME));
  // On B's filesystem, next to where the copy lands.
  const floorDir = path.join(b.dir, 'rsync-floor');
  const tlsDir = path.join(b.dir, 'rsync-tls');
  const overTls = await tlsRsync(ctx, work, rootfs, tlsDir);
  const rsyncd = await startRsyncDaemon(ctx, work, path.join(b.dir, 'rsync-tcp'));
  const overTcp = (features: readonly string[]) => ({
    timed: () => ctx.exec('rsync', ['-ar', '--devices', '--numeric-ids', '--partial', '--sparse', ...rsyncFeatureArgs(features), `${rootfs}/`, `${rsyncd.url}copy/`]),
    undo: () => ctx.exec('rm', ['-rf', '--one-file-system', '--', path.join(rsyncd.dir, 'copy')]),
  });

  const copy = async (): Promise<void> => {
    const op = await migrateInstance(a.client, b.client, NAME, req, {
      mode: 'pull', live: false, instanceOnly: true, refresh: false, refreshExcludeOlder: false, allowInconsistent: false,
    });
    await op.wait();
  };
  const deleteCopy = async (): Promise<void> => void (await (await b.client.deleteInstance(NAME)).wait());
  const sides: Record<MigrationSide, { prepare?: () => Promise<void>; timed: () => Promise<unknown>; undo: () => Promise<unknown> }> = {
    rsync: {
      timed: () => ctx.exec('rsync', [...RSYNC_FLOOR_ARGS, `${rootfs}/`, floorDir]),
      undo: () => ctx.exec('rm', ['-rf', '--one-file-system', '--', floorDir]),
    },
    copy: { prepare: () => setCompression(a, true), timed: copy, undo: deleteCopy },
    'copy-uncompressed': { prepare: () => setCompression(a, false), timed: copy, undo: deleteCopy },
    'rsync-tls': {
      prepare: overTls.listen,
      timed: overTls.copy,
      undo: () => ctx.exec('rm', ['-rf', '--one-file-system', '--', tlsDir]),
    },
    'rsync-tcp': overTcp(TLS_FEATURES),
    'rsync-tcp-compressed': overTcp(COMPRESSED_FEATURES),
  };
  // A daemon whose dir driver refuses the key measures the default copy alone.
  const refused = await setCompression(a, false).then(() => setCompression(a, true)).then(() => '', (err: Error) => err.message);
  const inOrder = (i: number): MigrationSide[] => migrationSidesInOrder(i).filter((s) => !refused || s !== 'copy-uncompressed');
  const columns: Record<Exclude<MigrationSide, 'rsync'>, string> = {
    copy: COLUMN, 'copy-uncompressed': COLUMN_UNCOMPRESSED, 'rsync-tls': COLUMN_TLS, 'rsync-tcp': COLUMN_TCP, 'rsync-tcp-compressed': COLUMN_TCP_COMPRESSED,
  };

  ctx.legend(`reference: raw \`rsync ${RSYNC_FLOOR_ARGS.join(' ')} ROOTFS/ DIR\` of the container's rootfs into a fresh directory in daemon B's INCUS_DIR (same filesystem), local to local`);
  ctx.column(COLUMN, `lib/client's migrateInstance (what \`incus copy c1 b: --stateless --instance-only\` runs) in pull mode, from POST until both operations end: B dials A's migration operation on A's core.https_address (127.0.0.1, certificate pinned), control and fs websockets over TLS, rsync with the negotiated features (xattrs, delete, compress: both pools at their defaults) through \`incusd-helper netcat --pass-fds\` on A (it hands rsync's ends to the daemon, which reads them straight into frames of 256 to 512 KiB) and \`rsync --server -vlogDtpre.iLsfxCIvu\` on B (which reads TLS records into pooled buffers and writes frame payloads from there to rsync), rows added last`);
  if (refused) ctx.note(`${COLUMN_UNCOMPRESSED} not measured: the daemon refused the key (${refused})`);
  else ctx.column(COLUMN_UNCOMPRESSED, 'the same with rsync.compression=false on the source\'s pool, so that compress is not negotiated');
  ctx.column(COLUMN_TLS, `the transport's floor: the sender's rsync as the daemon runs it (${rsyncFeatureArgs(TLS_FEATURES).join(' ')}, no compression) with \`socat -b ${SOCAT_BUFFER} - OPENSSL:127.0.0.1:PORT\` as its remote shell, into \`socat OPENSSL-LISTEN\` (a P-384 certificate, TLS 1.3 as negotiated, verify=0) running \`rsync --server ${RECEIVER_CAPS}\` as daemon B runs it, into a fresh directory in B's INCUS_DIR; its CPU is the two socats' and both rsyncs'`);
  const tcpMeaning = (features: readonly string[]): string => `rsync's own network mode, the floor of any transport between two servers: the sender's rsync as the daemon runs it (${rsyncFeatureArgs(features).join(' ')}) to \`rsync --daemon\` on 127.0.0.1 over a bare TCP socket (rsync://, no TLS, no relay), into a fresh directory in B's INCUS_DIR; wall time only (the daemon's CPU is not reaped per round)`;
  ctx.column(COLUMN_TCP, tcpMeaning(TLS_FEATURES));
  ctx.column(COLUMN_TCP_COMPRESSED, tcpMeaning(COMPRESSED_FEATURES));
  ctx.legend(`tree: a stopped busybox container with ${mib} MiB of random data in ${dataFileSizes(mib).length} files (BENCH_MIGRATION_MIB), ${(bytes / MIB).toFixed(1)} MiB in all (du --apparent-size); every side reads it from the page cache`);
  ctx.legend(`medians of ${ctx.runs} rounds (after ${ctx.warmup} warm-up), each copying once per side with \`sync\` before, the order of the sides rotating each round; the copy is deleted and the rsync'd directory removed (untimed) after each; MiB/s = tree / wall time, higher is better, so a throughput ratio is the copy's share of the floor; target: ≥ ${MIGRATION_TARGET_RATIO}× raw rsync`);
  ctx.legend('CPU ms/MiB: CPU time (user + system, /proc/PID/stat) per MiB of tree, median over the rounds, for each daemon itself and for the rsync and netcat processes it ran (reaped children); the reference is raw rsync\'s sender + receiver. Lower is better; unlike wall time it does not depend on other load on the host');

  const perSide = <T>(): Record<MigrationSide, T[]> => Object.fromEntries(MIGRATION_SIDES.map((s) => [s, []])) as unknown as Record<MigrationSide, T[]>;
  const ms = perSide<number>();
  // CPU seconds per process around each timed side: robust to other load on the host, unlike wall time.
  const cpuNow = (): CpuSeconds[] => [cpuOf(a.pid), cpuOf(b.pid), cpuOf('self')];
  const cpuSince = (before: CpuSeconds[]): CpuUse => {
    const [da, db, dl] = cpuNow().map((c, k) => ({ self: c.self - before[k].self, children: c.children - before[k].children }));
    return { aSelf: da.self, aChildren: da.children, bSelf: db.self, bChildren: db.children, local: dl.children };
  };
  const cpu = perSide<CpuUse>();
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const measured = i >= ctx.warmup;
    for (const side of inOrder(i)) {
      await sides[side].prepare?.();
      await ctx.exec('sync', []);
      const before = cpuNow();
      const t = await timeMs(sides[side].timed);
      const used = cpuSince(before);
      await sides[side].undo();
      ctx.log(`${measured ? `round ${i - ctx.warmup + 1}` : `warm-up ${i + 1}`}: ${side} ${(t / 1000).toFixed(2)} s, ${mibPerSecond(bytes, t).toFixed(0)} MiB/s, CPU s: A ${used.aSelf.toFixed(2)} (+${used.aChildren.toFixed(2)} rsync/netcat), B ${used.bSelf.toFixed(2)} (+${used.bChildren.toFixed(2)} rsync), local rsync ${used.local.toFixed(2)}`);
      if (measured) {
        ms[side].push(t);
        cpu[side].push(used);
      }
    }
  }

  const rsyncMs = median(ms.rsync);
  const rsyncRate = mibPerSecond(bytes, rsyncMs);
  ctx.metric('migration.rsync', rsyncRate, 'MiB/s');
  const rate: Partial<Record<MigrationSide, number>> = {};
  const wall: Partial<Record<MigrationSide, number>> = {};
  const copies: CopySide[] = refused ? ['copy'] : ['copy', 'copy-uncompressed'];
  const shown: Exclude<MigrationSide, 'rsync'>[] = [...copies, 'rsync-tls'];
  const tcp = ['rsync-tcp', 'rsync-tcp-compressed'] as const;
  for (const side of [...shown, ...tcp]) {
    wall[side] = median(ms[side]) / 1000;
    rate[side] = mibPerSecond(bytes, median(ms[side]));
    ctx.metric(`migration.${side}`, rate[side], 'MiB/s');
    ctx.metric(`migration.${side}.ratio`, migrationVerdict(rsyncRate, rate[side]).ratio, 'x');
  }
  const byColumn = (v: Partial<Record<MigrationSide, number>>): Record<string, number | undefined> => ({
    [columns.copy]: v.copy,
    [columns['copy-uncompressed']]: v['copy-uncompressed'],
    [columns['rsync-tls']]: v['rsync-tls'],
    [columns['rsync-tcp']]: v['rsync-tcp'],
    [columns['rsync-tcp-compressed']]: v['rsync-tcp-compressed'],
  });
  ctx.row({ metric: `${mib} MiB container copy, throughput`, unit: 'MiB/s', values: byColumn(rate), reference: rsyncRate });
  ctx.row({ metric: `${mib} MiB container copy, wall time`, unit: 's', values: byColumn(wall), reference: rsyncMs / 1000 });
  const msPerMib = (side: MigrationSide, f: (u: CpuUse) => number): number => (median(cpu[side].map(f)) * 1000) / (bytes / MIB);
  const cpuRow = (metric: string, f: (u: CpuUse) => number, reference?: number, sides: readonly MigrationSide[] = copies): void => {
    const v: Partial<Record<MigrationSide, number>> = {};
    for (const side of sides) v[side] = msPerMib(side, f);
    ctx.row({ metric, unit: 'CPU ms/MiB', values: byColumn(v), reference });
  };
  const rsyncCpu = msPerMib('rsync', (u) => u.local);
  cpuRow('CPU per MiB, incusd A (sender side, relaying rsync to the websocket)', (u) => u.aSelf);
  cpuRow('CPU per MiB, incusd B (receiver side, websocket to rsync)', (u) => u.bSelf);
  cpuRow('CPU per MiB, rsync (A: the sender and its remote shell, incusd-helper netcat; B: rsync --server)', (u) => u.aChildren + u.bChildren, rsyncCpu);
  cpuRow('CPU per MiB, all processes', (u) => u.aSelf + u.aChildren + u.bSelf + u.bChildren + u.local, rsyncCpu, shown);
  const tls = await measureTlsAlone(ctx, work, bytes);
  const all = (u: CpuUse): number => u.aSelf + u.aChildren + u.bSelf + u.bChildren + u.local;
  const cores = availableParallelism();
  for (const side of copies) {
    const { ratio, met } = migrationVerdict(rsyncRate, rate[side]!);
    const why = whyMissed({
      relayA: msPerMib(side, (u) => u.aSelf) - tls.send,
      relayB: msPerMib(side, (u) => u.bSelf) - tls.receive,
      busy: (msPerMib(side, all) * (bytes / MIB)) / (cores * 1000 * wall[side]!),
      compressed: side === 'copy',
    });
    targetNote(ctx, `${columns[side]} ≥ ${MIGRATION_TARGET_RATIO}× raw rsync's MiB/s`, met, `${ratio.toFixed(2)}× (${rate[side]!.toFixed(0)} vs ${rsyncRate.toFixed(0)} MiB/s)`, why);
    const ofTls = rate[side]! / rate['rsync-tls']!;
    ctx.metric(`migration.${side}.of-rsync-tls`, ofTls, 'x');
    ctx.note(`${columns[side]} against ${COLUMN_TLS}: ${ofTls.toFixed(2)}× its MiB/s (${rate[side]!.toFixed(0)} vs ${rate['rsync-tls']!.toFixed(0)}); the TLS link alone takes rsync to ${(rate['rsync-tls']! / rsyncRate).toFixed(2)}× of raw rsync`);
    const floor = TCP_FLOOR[side];
    ctx.metric(`migration.${side}.of-${floor}`, rate[side]! / rate[floor]!, 'x');
    ctx.note(tcpFloorNote(columns[side], columns[floor], rate[side]!, rate[floor]!, rsyncRate));
  }
  noteTlsBound(ctx, tls, rsyncRate, msPerMib(copies[copies.length - 1], (u) => u.aChildren + u.bChildren));

  await b.stop();
  await a.stop();
}

/**
 * The copy against rsync's own network mode with the same features: where
 * that floor is itself under the target, no transport that adds to it
 * (TLS, a relay) can reach the target on this host.
 */
export function tcpFloorNote(copyColumn: string, floorColumn: string, copyRate: number, floorRate: number, rsyncRate: number): string {
  const floorRatio = floorRate / rsyncRate;
  const head = `${copyColumn} against ${floorColumn}: ${(copyRate / floorRate).toFixed(2)}× its MiB/s (${copyRate.toFixed(0)} vs ${floorRate.toFixed(0)}); rsync over a bare TCP socket, with no TLS and no relay, runs at ${floorRatio.toFixed(2)}× raw rsync`;
  if (floorRatio >= MIGRATION_TARGET_RATIO) return head;
  return `${head}, itself under the ${MIGRATION_TARGET_RATIO}× target: on this host no transport that adds anything to rsync's own stream (a TLS link, a relay) can reach it`;
}

/** Node's TLS link alone, medians over the rounds. */
interface TlsAlone {
  send: number;
  receive: number;
  rate: number;
  cipher: string;
  runs: number;
  mib: number;
}

/** The Node TLS link alone (bench/lib/node-tls-link.ts), as many rounds as the copies. */
async function measureTlsAlone(ctx: BenchContext, work: string, bytes: number): Promise<TlsAlone> {
  const runs = [];
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    const r = await measureNodeTlsLink(path.join(work, 'tls.crt'), path.join(work, 'tls.key'), bytes);
    ctx.log(`Node TLS link ${i < ctx.warmup ? 'warm-up' : 'round'}: sender ${r.senderMsPerMib.toFixed(2)}, receiver ${r.receiverMsPerMib.toFixed(2)} CPU ms/MiB, ${r.mibPerSecond.toFixed(0)} MiB/s`);
    if (i >= ctx.warmup) runs.push(r);
  }
  const tls = {
    send: median(runs.map((r) => r.senderMsPerMib)),
    receive: median(runs.map((r) => r.receiverMsPerMib)),
    rate: median(runs.map((r) => r.mibPerSecond)),
    cipher: runs[0].cipher,
    runs: runs.length,
    mib: bytes / MIB,
  };
  ctx.metric('migration.node-tls.sender', tls.send, 'CPU ms/MiB');
  ctx.metric('migration.node-tls.receiver', tls.receive, 'CPU ms/MiB');
  return tls;
}

/**
 * Node's TLS link alone, and the rate no copy through Node TLS on both
 * ends can pass on this host: all cores busy with nothing but rsync's two
 * ends (`rsyncMsPerMib`, as measured in the copy) and the two TLS ends,
 * before any relay work.
 */
function noteTlsBound(ctx: BenchContext, tls: TlsAlone, rsyncRate: number, rsyncMsPerMib: number): void {
  const cores = availableParallelism();
  const bound = (cores * 1000) / (rsyncMsPerMib + tls.send + tls.receive);
  ctx.metric('migration.node-tls.bound', bound, 'MiB/s');
  ctx.note(`Node's TLS link alone (two Node processes, the tree's ${tls.mib.toFixed(0)} MiB in 1 MiB writes over TLS 1.3 on 127.0.0.1, ${tls.cipher}, the receiver reading into a reused buffer as the daemon does and dropping it; medians of ${tls.runs}): sender ${tls.send.toFixed(2)}, receiver ${tls.receive.toFixed(2)} CPU ms/MiB, ${tls.rate.toFixed(0)} MiB/s`);
  ctx.note(`bound for any copy with Node's TLS at both ends on ${cores} cores: ${cores} × 1000 / (rsync's two ends over a stream ${rsyncMsPerMib.toFixed(2)} + TLS sender ${tls.send.toFixed(2)} + TLS receiver ${tls.receive.toFixed(2)} CPU ms/MiB) = ${bound.toFixed(0)} MiB/s, ${(bound / rsyncRate).toFixed(2)}× raw rsync, with every core busy all the time and no relay work at all (reading rsync's socket, framing, writing to rsync)`);
}
