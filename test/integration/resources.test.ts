/**
 * GET /1.0/resources against this machine: every thread, the memory total
 * as Incus computes it, at least one disk, the NICs backed by a device;
 * `incus info --resources` prints the CPU and memory sections; an
 * untrusted HTTPS caller is refused.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resources } from '../../lib/api/resources';
import type { Server } from '../../lib/api/server';
import { freeLocalPort } from '../../bench/lib/free-port';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';
import { makeClientKeypair, TlsTransport } from './lib/tls-transport';

/** Incus counts the online memory blocks when the kernel lists them, else takes MemTotal. */
function expectedMemoryTotal(): { total: number; memTotal: number } {
  const memTotal = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) * 1024;
  const base = '/sys/devices/system/memory';
  if (!existsSync(join(base, 'block_size_bytes'))) return { total: memTotal, memTotal };
  const block = parseInt(readFileSync(join(base, 'block_size_bytes'), 'utf8').trim(), 16);
  let online = 0;
  for (const n of readdirSync(base)) {
    if (!n.startsWith('memory')) continue;
    try {
      if (readFileSync(join(base, n, 'online'), 'utf8').trim() === '1') online++;
    } catch {
      // Not a block.
    }
  }
  return { total: block * online || memTotal, memTotal };
}

t.test('GET /1.0/resources and incus info --resources', async (t) => {
  const d = await withDaemon(t, { init: false });
  const started = Date.now();
  const r = await rawRequest(d.socket, 'GET', '/1.0/resources');
  t.equal(r.status, 200, `GET /1.0/resources: ${JSON.stringify(r.body.error ?? '')}`);
  t.ok(Date.now() - started < 5000, 'answered within 5 s');
  const res = r.body.metadata as Resources;

  t.equal(res.cpu.total, cpus().length, 'every thread of os.cpus()');
  const threads = res.cpu.sockets.flatMap((s) => s.cores.flatMap((c) => c.threads));
  t.equal(threads.length, res.cpu.total, 'sockets/cores/threads add up to the total');
  t.ok(res.cpu.architecture.length > 0, 'architecture');

  const mem = expectedMemoryTotal();
  t.equal(res.memory.total, mem.total, 'memory total: online blocks when listed, else MemTotal');
  t.ok(res.memory.total >= mem.memTotal, 'never below /proc/meminfo MemTotal');
  t.ok(res.memory.used > 0 && res.memory.used < res.memory.total, 'used within total');

  t.ok(res.storage.disks.length >= 1, `at least one disk (${res.storage.disks.map((x) => x.id).join(', ')})`);
  t.ok(res.storage.disks.every((x) => x.size > 0 || x.removable), 'disk sizes');
  const physical = readdirSync('/sys/class/net').filter((n) => existsSync(join('/sys/class/net', n, 'device')));
  if (physical.length > 0) {
    const ports = res.network.cards.flatMap((c) => (c.ports ?? []).map((p) => p.id));
    t.ok(res.network.cards.length >= 1, 'NICs listed');
    for (const n of physical) t.ok(ports.includes(n), `${n} is a port of a card`);
  }
  t.equal(res.pci.total, res.pci.devices.length);
  t.ok(['physical', 'container', 'virtual-machine', 'unknown'].includes(res.system.type), `system type ${res.system.type}`);
  t.equal(typeof res.load.Processes, 'number');

  const server = (await rawRequest(d.socket, 'GET', '/1.0')).body.metadata as Server;
  t.ok(server.api_extensions.includes('resources_v2'), 'resources_v2 advertised');

  const info = await d.cli(['info', '--resources']);
  t.equal(info.code, 0, `incus info --resources: ${info.stderr}`);
  t.match(info.stdout, /^System:\n/);
  t.match(info.stdout, /\nCPUs?:\n {2}Architecture: \S+\n/, 'CPU section');
  t.match(info.stdout, /\n {2}Cores:\n {4}- Core \d+\n/);
  t.match(info.stdout, /\nMemory:\n(?:.*\n)* {2}Free: [\d.]+\w+\n {2}Used: [\d.]+\w+\n {2}Total: [\d.]+GiB\n/, 'memory section');
  t.match(info.stdout, /\nDisks?:\n/, 'disk section');
});

t.test('an untrusted HTTPS caller gets 403', async (t) => {
  const d = await withDaemon(t, { init: false });
  const cfg = ((await rawRequest(d.socket, 'GET', '/1.0')).body.metadata as Server).config ?? {};
  let addr = cfg['core.https_address'] ?? '';
  if (addr === '') {
    addr = `127.0.0.1:${await freeLocalPort()}`;
    const set = await rawRequest(d.socket, 'PATCH', '/1.0', JSON.stringify({ config: { 'core.https_address': addr } }));
    t.equal(set.status, 200, 'core.https_address set');
  }
  const keys = mkdtempSync(join(tmpdir(), 'incus-resources-keys-'));
  const tr = new TlsTransport(addr, makeClientKeypair(keys, 'stranger'), readFileSync(join(d.dir, 'server.crt'), 'utf8'));
  t.teardown(() => {
    tr.close();
    rmSync(keys, { recursive: true, force: true });
  });
  const res = await tr.request({ method: 'GET', path: '/1.0/resources', headers: {} });
  t.equal(res.status, 403, 'refused');
  t.match(JSON.parse(res.body.toString()), { error: 'not authorized' });
});
