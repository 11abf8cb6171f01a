/**
 * GET /1.0/metrics against a real daemon: 50 running busybox containers
 * each carry every Incus family that applies to a container (parsed with a
 * Prometheus text parser), CPU seconds rise for a container spinning a busy
 * loop, `?project=` narrows the instances; over HTTPS an untrusted caller is
 * refused unless core.metrics_authentication is false, and a `metrics`
 * certificate reads the metrics and nothing else.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DevicesMap } from '../../lib/api/instance';
import type { Server } from '../../lib/api/server';
import { freeLocalPort } from '../../bench/lib/free-port';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { makeClientKeypair, TlsTransport } from './lib/tls-transport';

interface PromFamily {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}
const parsePrometheus = require('parse-prometheus-text-format') as (text: string) => PromFamily[];

const COUNT = 50;
const PARALLEL = 5;

interface TextReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** GET over the Unix socket, the body as bytes (metrics are not JSON). */
function socketGet(socketPath: string, path: string, headers: Record<string, string> = {}): Promise<TextReply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: 'GET', path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(d: TestDaemon, query = ''): Promise<PromFamily[]> {
  const r = await socketGet(d.socket, `/1.0/metrics${query}`);
  if (r.status !== 200) throw new Error(`GET /1.0/metrics answered ${r.status}: ${r.body.toString()}`);
  return parsePrometheus(r.body.toString());
}

/** Runs fn(i) for i in [0, count), `width` at a time. */
async function pool(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/** Sum of a container's samples of one family. */
function total(fams: PromFamily[], family: string, name: string): number {
  const f = fams.find((x) => x.name === family);
  return (f?.metrics ?? []).filter((m) => m.labels?.name === name).reduce((a, m) => a + Number(m.value), 0);
}

/** The families that every running container must carry here. */
function requiredFamilies(): string[] {
  const memory = ['Active_anon', 'Active_file', 'Active', 'Inactive_anon', 'Inactive_file', 'Inactive', 'Unevictable', 'Writeback', 'Dirty', 'Mapped', 'Shmem', 'Cached', 'MemTotal', 'MemAvailable', 'MemFree'];
  const v1 = existsSync('/sys/fs/cgroup/memory/memory.stat');
  // RSS comes from v1's total_rss only; swap only where swap is accounted.
  if (v1) memory.push('RSS');
  if (existsSync('/sys/fs/cgroup/memory/memory.memsw.usage_in_bytes') || !v1) memory.push('Swap');
  return [
    'incus_cpu_seconds_total',
    'incus_cpu_effective_total',
    ...memory.map((m) => `incus_memory_${m}_bytes`),
    'incus_memory_OOM_kills_total',
    ...['receive', 'transmit'].flatMap((dir) => ['bytes', 'drop', 'errs', 'packets'].map((k) => `incus_network_${dir}_${k}_total`)),
    'incus_procs_total',
    'incus_boot_time_seconds',
    'incus_time_seconds',
  ];
}

t.test(`${COUNT} containers: every family, CPU seconds rise under load, ?project=`, async (t) => {
  const d = await withDaemon(t);
  const names = Array.from({ length: COUNT }, (_, i) => `c${i}`);
  const shared = mkdtempSync(join(tmpdir(), 'incus-metrics-disk-'));
  t.teardown(() => rmSync(shared, { recursive: true, force: true }));
  const launchStart = Date.now();
  try {
    await pool(COUNT, PARALLEL, async (i) => {
      // c0 also gets a host directory, whose filesystem the metrics measure.
      const devices: DevicesMap = i === 0 ? { data: { type: 'disk', source: shared, path: '/mnt/data' } } : {};
      await (await d.client.createInstance({ name: names[i]!, source: { type: 'image', alias: 'busybox' }, devices })).wait();
      await (await d.client.updateInstanceState(names[i]!, { action: 'start' })).wait();
    });
    t.pass(`${COUNT} launched in ${((Date.now() - launchStart) / 1000).toFixed(1)} s`);

    const head = await socketGet(d.socket, '/1.0/metrics');
    t.equal(head.status, 200);
    t.equal(head.headers['content-type'], 'text/plain', 'Content-Type as Incus sends it');
    t.match(head.body.toString(), /# EOF\n$/, 'ends with # EOF');

    const t0 = Date.now();
    const fams = await scrape(d);
    t.pass(`parsed scrape of ${COUNT} containers (cached or fresh) in ${Date.now() - t0} ms`);
    const byName = new Map(fams.map((f) => [f.name, f]));
    const missing: string[] = [];
    for (const fam of requiredFamilies()) {
      const f = byName.get(fam);
      for (const n of names) {
        const own = (f?.metrics ?? []).filter((m) => m.labels?.name === n);
        if (own.length === 0) missing.push(`${fam} of ${n}`);
        else if (!own.every((m) => m.labels?.project === 'default' && m.labels?.type === 'container')) missing.push(`${fam} labels of ${n}`);
      }
    }
    t.same(missing, [], 'every container family for every container, labelled name/project/type');
    t.equal(byName.get('incus_cpu_seconds_total')?.type, 'COUNTER');
    t.equal(byName.get('incus_procs_total')?.type, 'GAUGE');
    t.equal(byName.get('incus_memory_OOM_kills_total')?.type, 'COUNTER');
    const modes = new Set((byName.get('incus_cpu_seconds_total')?.metrics ?? []).map((m) => m.labels?.mode));
    t.same([...modes].sort(), ['system', 'user'], 'CPU modes of a container');
    t.ok(total(fams, 'incus_procs_total', 'c1') >= 1, 'c1 runs at least init');
    t.ok(total(fams, 'incus_memory_MemTotal_bytes', 'c1') > 0, 'MemTotal');
    // Disk families come as a set when the container did block I/O the cgroup saw.
    const disk = ['incus_disk_read_bytes_total', 'incus_disk_reads_completed_total', 'incus_disk_written_bytes_total', 'incus_disk_writes_completed_total'];
    for (const n of names) {
      const has = disk.map((f) => (byName.get(f)?.metrics ?? []).some((m) => m.labels?.name === n));
      if (has.some(Boolean) && !has.every(Boolean)) t.fail(`${n}: disk families incomplete`);
    }
    for (const fam of ['incus_filesystem_size_bytes', 'incus_filesystem_avail_bytes', 'incus_filesystem_free_bytes']) {
      const s = (byName.get(fam)?.metrics ?? []).find((m) => m.labels?.name === 'c0');
      t.ok(s && s.labels?.mountpoint === '/mnt/data' && Number(s.value) > 0, `${fam} of c0's disk device`);
    }
    for (const fam of ['incus_uptime_seconds', 'incus_warnings_total', 'incus_operations_total']) t.ok(byName.has(fam), `daemon family ${fam}`);
    const containers = (byName.get('incus_project_resources_total')?.metrics ?? []).find((m) => m.labels?.project === 'default' && m.labels?.resource === 'containers');
    t.equal(Number(containers?.value), COUNT, 'project resources: containers');
    t.ok((byName.get('incus_storage_pool_size_bytes')?.metrics ?? []).some((m) => m.labels?.pool === 'default' && m.labels?.driver === 'dir'), 'storage pool size');

    const other = await scrape(d, '?project=elsewhere');
    t.notOk(other.some((f) => f.metrics.some((m) => m.labels?.name !== undefined)), '?project= of another project: no instance samples');

    // A busy loop in c0: its CPU seconds rise between two scrapes past the 8 s cache.
    const loop = await d.cli(['exec', 'c0', '--', 'sh', '-c', 'while :; do :; done </dev/null >/dev/null 2>&1 &']);
    t.equal(loop.code, 0, `busy loop started: ${loop.stderr}`);
    await new Promise((r) => setTimeout(r, 8_500));
    const before = total(await scrape(d), 'incus_cpu_seconds_total', 'c0');
    await new Promise((r) => setTimeout(r, 8_500));
    const after = total(await scrape(d), 'incus_cpu_seconds_total', 'c0');
    t.ok(after - before > 2, `c0 CPU seconds rose by ${(after - before).toFixed(2)} s in ~8.5 s`);
  } finally {
    await pool(COUNT, PARALLEL, async (i) => {
      try {
        await (await d.client.updateInstanceState(names[i]!, { action: 'stop', force: true })).wait();
      } catch {
        // Not running.
      }
      try {
        await (await d.client.deleteInstance(names[i]!)).wait();
      } catch {
        // Never created.
      }
    });
  }
});

t.test('HTTPS: untrusted refused unless core.metrics_authentication=false; a metrics certificate reads only metrics', async (t) => {
  const d = await withDaemon(t, { init: false });
  const cfg = ((await rawRequest(d.socket, 'GET', '/1.0')).body.metadata as Server).config ?? {};
  let addr = cfg['core.https_address'] ?? '';
  if (addr === '') {
    addr = `127.0.0.1:${await freeLocalPort()}`;
    t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.https_address': addr } }))).status, 200);
  }
  const keys = mkdtempSync(join(tmpdir(), 'incus-metrics-keys-'));
  const serverCert = readFileSync(join(d.dir, 'server.crt'), 'utf8');
  const stranger = new TlsTransport(addr, makeClientKeypair(keys, 'stranger'), serverCert);
  const promKeys = makeClientKeypair(keys, 'prometheus');
  const prom = new TlsTransport(addr, promKeys, serverCert);
  t.teardown(() => {
    stranger.close();
    prom.close();
    rmSync(keys, { recursive: true, force: true });
  });
  const get = (tr: TlsTransport, path: string) => tr.request({ method: 'GET', path, headers: {} });

  const refused = await get(stranger, '/1.0/metrics');
  t.equal(refused.status, 403, 'untrusted: 403');
  t.match(JSON.parse(refused.body.toString()), { error: 'not authorized' });

  t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.metrics_authentication': 'maybe' } }))).status, 400, 'not a boolean: 400');
  t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.metrics_authentication': 'false' } }))).status, 200);
  const open = await get(stranger, '/1.0/metrics');
  t.equal(open.status, 200, 'untrusted with core.metrics_authentication=false: 200');
  t.match(open.body.toString(), /^# HELP incus_/);
  t.ok(parsePrometheus(open.body.toString()).some((f) => f.name === 'incus_uptime_seconds'), 'parses, daemon samples included');
  t.equal((await get(stranger, '/1.0/instances')).status, 403, 'still nothing else');
  t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.metrics_authentication': 'true' } }))).status, 200);
  t.equal((await get(stranger, '/1.0/metrics')).status, 403, 'refused again');

  const add = await rawRequest(d.socket, 'POST', '/1.0/certificates', JSON.stringify({ type: 'metrics', name: 'prometheus', certificate: promKeys.cert }));
  t.equal(add.status, 200, `metrics certificate added: ${JSON.stringify(add.body.error ?? '')}`);
  const scraped = await get(prom, '/1.0/metrics');
  t.equal(scraped.status, 200, 'metrics certificate: 200 on /1.0/metrics');
  t.equal(scraped.headers['content-type'], 'text/plain');
  for (const path of ['/1.0/instances', '/1.0/certificates', '/1.0/warnings', '/1.0/operations', '/1.0/storage-pools']) {
    t.equal((await get(prom, path)).status, 403, `metrics certificate: 403 on ${path}`);
  }
  const server = JSON.parse((await get(prom, '/1.0')).body.toString()) as { metadata: Server };
  t.equal(server.metadata.auth, 'untrusted', 'GET /1.0 sees it as untrusted, as Incus does');

  const gz = await prom.request({ method: 'GET', path: '/1.0/metrics', headers: { 'Accept-Encoding': 'gzip' } });
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.match(gunzipSync(gz.body).toString(), /# EOF\n$/, 'gzip body');
  // core.metrics_address: a listener serving only the metrics paths.
  const metricsAddr = `127.0.0.1:${await freeLocalPort()}`;
  t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.metrics_address': metricsAddr } }))).status, 200, 'core.metrics_address set');
  const onMetrics = new TlsTransport(metricsAddr, promKeys, serverCert);
  t.teardown(() => onMetrics.close());
  t.equal((await get(onMetrics, '/1.0/metrics')).status, 200, 'metrics listener: /1.0/metrics');
  t.equal((await get(onMetrics, '/1.0/instances')).status, 404, 'metrics listener: other paths 404');
  t.equal((await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.metrics_address': '' } }))).status, 200, 'unset');
  await t.rejects(get(new TlsTransport(metricsAddr, promKeys, serverCert), '/1.0/metrics'), 'listener closed');
});
