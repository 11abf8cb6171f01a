/** The CPU and memory readers against the fixture tree, and their parsers. */
import t from 'tap';
import { parseCpuinfo, readCPU, smbiosProcessor, type CpuStatics } from '../../lib/server/resources/cpu';
import { parseRangedList } from '../../lib/server/resources/host';
import { parseMeminfo, readMemory } from '../../lib/server/resources/memory';
import { fixtureHost } from './fixtures/resources-host';

t.test('cpu: one socket, cores grouped by thread siblings, caches and frequencies', async (t) => {
  const statics: CpuStatics = new Map();
  const cpu = await readCPU(fixtureHost(), statics);
  t.equal(cpu.architecture, 'x86_64');
  t.equal(cpu.total, 4, 'every thread counted, offline ones too');
  t.equal(cpu.sockets.length, 1);
  const s = cpu.sockets[0];
  t.equal(s.name, '12th Gen Intel(R) Core(TM) i7-1260P');
  t.equal(s.vendor, 'GenuineIntel');
  t.same(s.cache, [
    { level: 1, type: 'Data', size: 48 * 1024 },
    { level: 1, type: 'Instruction', size: 32 * 1024 },
    { level: 2, type: 'Unified', size: 1280 * 1024 },
  ]);
  t.equal(s.frequency_minimum, 400, 'kHz to MHz');
  t.equal(s.frequency_turbo, 4700);
  t.equal(s.frequency, 1500, 'the average of the cores');
  t.same(s.address_sizes, { physical_bits: 39, virtual_bits: 48 });
  t.same(
    s.cores.map((c) => [c.core, c.cluster, c.frequency, c.threads.map((th) => th.id)]),
    [
      [0, 0, 1000, [0, 2]],
      [1, 0, 2000, [1, 3]],
    ],
    'cluster 65535 reads as 0; siblings share a core',
  );
  t.same(s.cores[1].threads[1], { id: 3, numa_node: 0, thread: 1, online: false, isolated: true });
  t.same(s.cores[0].flags, ['fpu', 'vme', 'sse2', 'avx2']);
  t.same(Object.keys(s), ['name', 'vendor', 'socket', 'cache', 'cores', 'frequency', 'frequency_minimum', 'frequency_turbo', 'address_sizes'], "Incus's field order");
  t.equal(statics.size, 1, 'the socket details are kept');
  t.same(await readCPU(fixtureHost(), statics), cpu, 'and reused');
});

t.test('cpuinfo blocks and ranged lists', async (t) => {
  const info = parseCpuinfo('processor\t: 0\ncpu\t\t: POWER9\n\nprocessor\t: 1\ncpu\t\t: POWER9\n');
  t.equal(info.get(1)?.get('cpu'), 'POWER9');
  t.same(parseRangedList('0-2,5'), [0, 1, 2, 5]);
  t.equal(parseRangedList('1-x'), null);
});

t.test('SMBIOS type 4: manufacturer and version strings', async (t) => {
  const table = Buffer.concat([
    Buffer.from([0, 4, 0, 0]), Buffer.from('BIOS\0\0', 'latin1'),
    Buffer.from([4, 5, 1, 0, 0]), Buffer.from('CPU0\0Ampere(R)\0Altra\0\0', 'latin1'),
    Buffer.from([127, 4, 2, 0, 0, 0]),
  ]);
  t.same(smbiosProcessor(table), { vendor: 'Ampere(R)', name: 'Altra' });
  t.equal(smbiosProcessor(Buffer.from([127, 4, 0, 0, 0, 0])), null);
});

t.test('memory: online blocks make the total, NUMA node and hugepages', async (t) => {
  const mem = await readMemory(fixtureHost());
  const gib = 1024 ** 3;
  t.equal(mem.total, 2 * gib, 'two online 1 GiB blocks, not MemTotal');
  t.equal(mem.used, 2 * gib - (1000000 + 200000 + 10000) * 1024, 'total - free - cached - buffers');
  t.equal(mem.hugepages_size, 2 * 1024 * 1024);
  t.equal(mem.hugepages_total, 4 * 2 * 1024 * 1024);
  t.equal(mem.hugepages_used, 3 * 2 * 1024 * 1024);
  t.same(mem.nodes, [{ numa_node: 0, hugepages_used: 3 * 2 * 1024 * 1024, hugepages_total: 4 * 2 * 1024 * 1024, used: 1000000 * 1024, total: 2 * gib }]);
  t.same(Object.keys(mem), ['nodes', 'hugepages_total', 'hugepages_used', 'hugepages_size', 'used', 'total']);
});

t.test('meminfo lines, node prefixes and page counts', async (t) => {
  const m = parseMeminfo('Node 1 MemTotal:  100 kB\nNode 1 HugePages_Total:   7\nBogus\n');
  t.equal(m.total, 102400);
  t.equal(m.hugepagesTotal, 7, 'a count, not kB');
});
