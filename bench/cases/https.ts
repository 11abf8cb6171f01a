/**
 * HTTPS next to the Unix socket, same daemon, same run: exec round trip
 * (`true` in a running busybox container through lib/client) and
 * `GET /1.0/instances?recursion=2` with BENCH_HTTPS_COUNT (default 200)
 * running containers. The HTTPS side listens on core.https_address
 * (127.0.0.1, a free port) and is reached by lib/client's HttpsTransport
 * with a client keypair made here and trusted over the socket; the sides
 * alternate batch by batch (exec) and call by call (list).
 */

import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execInstance, HttpsTransport, IncusClient } from '../../lib/client';
import { createCertificate } from '../../lib/client/certificates';
import { buildBusyboxImage } from '../../lib/image-builder';
import { BenchContext } from '../lib/case';
import { positiveCount } from '../lib/env-count';
import { sleep } from '../lib/exec';
import { IncusFleet } from '../lib/fleet';
import { startIncusDaemon } from '../lib/incus-daemon';
import { median, timeMs } from '../lib/stats';
import { targetNote } from '../lib/target';
import { freeLocalPort as freePort } from '../lib/free-port';

/** Execs per batch; batches alternate between the sides. */
const BATCH = 10;
/** The target: HTTPS at most this many times the socket. */
export const HTTPS_TARGET_RATIO = 1.5;

const COLUMN = 'HTTPS';

/** Running containers to list (BENCH_HTTPS_COUNT, default 200). */
export function httpsCount(raw: string | undefined): number {
  return positiveCount('BENCH_HTTPS_COUNT', raw, 200);
}

/** Which side goes first in round `i`: they swap each round so neither always runs on a warmer daemon. */
export function sidesInOrder(i: number): ['socket', 'https'] | ['https', 'socket'] {
  return i % 2 === 0 ? ['socket', 'https'] : ['https', 'socket'];
}

/** HTTPS over socket, and whether it is within {@link HTTPS_TARGET_RATIO}. */
export function httpsVerdict(socketMs: number, httpsMs: number): { ratio: number; met: boolean } {
  const ratio = httpsMs / socketMs;
  return { ratio, met: ratio <= HTTPS_TARGET_RATIO };
}

/** Output is not the point here: drop it. */
function sink(): Writable {
  return new Writable({ write: (_c, _e, cb) => cb() });
}

/** An ECDSA P-384 self-signed client keypair (as Incus makes them), in `dir`. */
async function makeClientKeypair(ctx: BenchContext, dir: string): Promise<{ cert: string; key: string }> {
  const crt = path.join(dir, 'client.crt');
  const key = path.join(dir, 'client.key');
  await ctx.exec('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1', '-nodes',
    '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=bench-https',
  ]);
  const [c, k] = await Promise.all([fs.promises.readFile(crt, 'utf8'), fs.promises.readFile(key, 'utf8')]);
  return { cert: c, key: k };
}

async function execTrue(client: IncusClient, name: string): Promise<void> {
  const r = await execInstance(client, name, { command: ['true'] }, { stdout: sink(), stderr: sink() });
  if (r.code !== 0) throw new Error(`exec true returned ${r.code}`);
}

async function listAll(client: IncusClient, expected: number): Promise<void> {
  const got = (await client.getInstances(2)).length;
  if (got !== expected) throw new Error(`GET /1.0/instances returned ${got} instances, expected ${expected}`);
}

/** Waits for the listener to answer as trusted (it starts when the config is applied; allow a moment). */
async function waitTrusted(ctx: BenchContext, client: IncusClient): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    try {
      const s = await client.getServer();
      if (s.auth === 'trusted') return;
      throw new Error(`the HTTPS client is "${s.auth}", not trusted`);
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await sleep(100);
  }
}

export const name = 'https';

export async function run(ctx: BenchContext): Promise<void> {
  const count = httpsCount(process.env.BENCH_HTTPS_COUNT);
  const work = await ctx.tmpDir('bench-https-');
  const image = await buildBusyboxImage({ output: path.join(work, 'busybox.tar.xz') });
  const daemon = await startIncusDaemon(ctx, image.path);
  ctx.log(`incusd pid ${daemon.pid} on ${daemon.dir}`);

  const port = await freePort();
  const { value: server, etag } = await daemon.client.getServerWithEtag();
  await daemon.client.updateServer({ config: { ...server.config, 'core.https_address': `127.0.0.1:${port}` } }, { etag });
  const keypair = await makeClientKeypair(ctx, work);
  await createCertificate(daemon.client, { type: 'client', name: 'bench-https', certificate: keypair.cert });
  const serverCert = await fs.promises.readFile(path.join(daemon.dir, 'server.crt'), 'utf8');
  const remote = new IncusClient({
    transport: new HttpsTransport({ url: `https://127.0.0.1:${port}`, clientCert: keypair.cert, clientKey: keypair.key, serverCert }),
  });
  ctx.defer('HTTPS client', () => remote.close());
  await waitTrusted(ctx, remote);
  const clients = { socket: daemon.client, https: remote };

  const fleet = new IncusFleet(ctx, daemon, `bench-https-${process.pid}`);
  const t0 = Date.now();
  await fleet.grow(count);
  ctx.log(`${count} running (grown in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  const ct = fleet.names[0];

  ctx.legend('reference: the same call through lib/client over the Unix socket ($INCUS_DIR/unix.socket)');
  ctx.column(COLUMN, `the same call through lib/client's HttpsTransport to core.https_address 127.0.0.1:<port>: server certificate pinned, client certificate (ECDSA P-384) trusted over the socket`);
  ctx.legend('connections: both sides keep their request connections alive (one keep-alive agent per client, warmed up before measuring); each exec websocket (0, 1, 2) is a new connection on both sides, started while the POST exec is in flight (lib/client does this on either transport); over HTTPS each resumes the TLS session the client cached (abbreviated TLS 1.3 handshake; the server reads the client certificate of every connection), with one secure context per client and TCP_NODELAY');
  ctx.legend(`exec: medians of ${ctx.runs * BATCH} execs per side (${ctx.runs} batches of ${BATCH}, after ${ctx.warmup} warm-up batch), sides alternate batch by batch; list: medians of ${ctx.runs} calls per side (after ${ctx.warmup} warm-up), sides alternate call by call; target: HTTPS ≤ ${HTTPS_TARGET_RATIO}× the socket`);

  const exec = { socket: [] as number[], https: [] as number[] };
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const measured = i >= ctx.warmup;
    ctx.log(`exec ${measured ? 'batch' : 'warm-up'} ${measured ? i - ctx.warmup + 1 : i + 1} (${BATCH} execs per side)`);
    for (const side of sidesInOrder(i)) {
      const ms: number[] = [];
      for (let k = 0; k < BATCH; k++) ms.push(await timeMs(() => execTrue(clients[side], ct)));
      if (measured) exec[side].push(...ms);
    }
  }

  const list = { socket: [] as number[], https: [] as number[] };
  for (let i = 0; i < ctx.warmup + ctx.runs; i++) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    for (const side of sidesInOrder(i)) {
      const ms = await timeMs(() => listAll(clients[side], count));
      if (i >= ctx.warmup) list[side].push(ms);
    }
  }

  const figures = [
    { key: 'exec', metric: 'exec true (round trip)', samples: exec, whyMissed: 'an exec opens three websockets, each a new TLS connection: a resumed TLS 1.3 handshake still costs about a millisecond of CPU on each side (key exchange, two new tickets, OpenSSL 3 decoding the certificate kept in the session) where the socket pays a bare connect, and on a busy host CPU is what the round trip waits for' },
    { key: `list.${count}`, metric: `GET /1.0/instances?recursion=2, ${count} running`, samples: list, whyMissed: '' },
  ];
  for (const f of figures) {
    const ref = median(f.samples.socket);
    const tls = median(f.samples.https);
    const { ratio, met } = httpsVerdict(ref, tls);
    ctx.metric(`https.${f.key}.socket`, ref, 'ms');
    ctx.metric(`https.${f.key}.https`, tls, 'ms');
    ctx.metric(`https.${f.key}.ratio`, ratio, 'x');
    ctx.row({ metric: f.metric, unit: 'ms', values: { [COLUMN]: tls }, reference: ref });
    targetNote(ctx, `${f.metric}: HTTPS ≤ ${HTTPS_TARGET_RATIO}× the socket`, met, `${ratio.toFixed(2)}×`, f.whyMissed);
  }

  await fleet.close();
  await daemon.stop();
}
