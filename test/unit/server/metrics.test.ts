/**
 * /1.0/metrics pieces: the OpenMetrics renderer (Incus's MetricSet.String),
 * a container's samples from cgroup v1 and v2 fixture trees, interface
 * counters, and who may read what.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Caller } from '../../../lib/server/auth/caller';
import type { Certificate } from '../../../lib/api/certificate';
import { CGROUP_FILES, cgroupFilesFor, countCpuSet, parsePartitions } from '../../../lib/server/metrics/cgroup-stats';
import { containerLabels, containerMetrics, type HostFacts, writeContainerMetrics } from '../../../lib/server/metrics/instance-metrics';
import { parseNetDev } from '../../../lib/server/metrics/net-dev';
import { MetricSet, MetricText, formatValue } from '../../../lib/server/metrics/openmetrics';
import { metricsAccess } from '../../../lib/server/metrics/access';
import { fsTypeName } from '../../../lib/server/metrics/fs-stats';
import { metricsListenAddress, metricsOnly } from '../../../lib/server/metrics/listener';
import type { MetricKey } from '../../../lib/server/metrics/names';

/** test/unit/fixtures/metrics in the source tree (tests run from dist/). */
const FIXTURES = join(__dirname, '..', '..', '..', '..', 'test', 'unit', 'fixtures', 'metrics');
const GIB = 1024 ** 3;

/**
 * What the native batch returns for container c1 on a fixture tree: each
 * file from its controller's hierarchy (v1: <root>/<controller>/, v2: one
 * tree), plus /proc/<init>/net/dev.
 */
function readTree(version: 'v1' | 'v2'): Record<string, string> {
  const root = join(FIXTURES, `cgroup-${version}`);
  const out: Record<string, string> = {};
  for (const f of CGROUP_FILES) {
    const dir = version === 'v1' ? join(root, f.slice(0, f.indexOf('.')), 'lxc.payload.c1') : join(root, 'lxc.payload.c1');
    try {
      out[f] = readFileSync(join(dir, f), 'utf8');
    } catch {
      // absent in this layout, as the native batch leaves it out
    }
  }
  out['proc/net/dev'] = readFileSync(join(FIXTURES, 'proc', '1234', 'net', 'dev'), 'utf8');
  return out;
}

function host(): HostFacts {
  return { partitions: parsePartitions(readFileSync(join(FIXTURES, 'proc', 'partitions'), 'utf8')), mounts: new Map(), memTotal: 8 * GIB };
}

function values(set: MetricSet, key: MetricKey): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of set.get(key)) {
    const { name: _n, project: _p, type: _t, ...rest } = s.labels;
    out[Object.entries(rest).map(([k, v]) => `${k}=${v}`).sort().join(',')] = s.value;
  }
  return out;
}

function one(set: MetricSet, key: MetricKey): number | undefined {
  const list = set.get(key);
  return list.length === 1 ? list[0]!.value : undefined;
}

t.test('values print as Go strconv.FormatFloat(v, g, -1, 64)', async (t) => {
  const cases: [number, string][] = [
    [0, '0'],
    [4, '4'],
    [60.304517, '60.304517'],
    [123456, '123456'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [268435456, '2.68435456e+08'],
    [1.7e21, '1.7e+21'],
    [0.0001, '0.0001'],
    [0.00001234, '1.234e-05'],
    [-1, '-1'],
    [-2500000, '-2.5e+06'],
    [Infinity, '+Inf'],
    [NaN, 'NaN'],
  ];
  for (const [v, want] of cases) t.equal(formatValue(v), want, String(v));
});

t.test('render: HELP and TYPE per family in Incus order, labels sorted, # EOF', async (t) => {
  const set = new MetricSet({ project: 'default', name: 'c1', type: 'container' });
  set.add('ProcsTotal', 3);
  set.add('CPUSecondsTotal', 60.304517, { mode: 'system', cpu: '0' });
  set.add('MemoryOOMKillsTotal', 0);
  set.add('CPUs', 2);
  const daemon = new MetricSet();
  daemon.add('UptimeSeconds', 12.5);
  daemon.merge(set);
  t.equal(
    daemon.render(),
    [
      '# HELP incus_cpu_seconds_total The total number of CPU time used in seconds.',
      '# TYPE incus_cpu_seconds_total counter',
      'incus_cpu_seconds_total{cpu="0",mode="system",name="c1",project="default",type="container"} 60.304517',
      '# HELP incus_cpu_effective_total The total number of effective CPUs.',
      '# TYPE incus_cpu_effective_total gauge',
      'incus_cpu_effective_total{name="c1",project="default",type="container"} 2',
      '# HELP incus_memory_OOM_kills_total The number of out of memory kills.',
      '# TYPE incus_memory_OOM_kills_total counter',
      'incus_memory_OOM_kills_total{name="c1",project="default",type="container"} 0',
      '# HELP incus_procs_total The number of running processes.',
      '# TYPE incus_procs_total gauge',
      'incus_procs_total{name="c1",project="default",type="container"} 3',
      '# HELP incus_uptime_seconds The daemon uptime in seconds.',
      '# TYPE incus_uptime_seconds counter',
      'incus_uptime_seconds 12.5',
      '# EOF',
      '',
    ].join('\n'),
  );
  t.equal(new MetricSet().render(), '# EOF\n', 'an empty set is only the EOF marker');
});

t.test('cgroup files read per host: the other version\'s left out only where the version is known', async (t) => {
  const v1 = cgroupFilesFor(() => 1);
  t.ok(v1.includes('memory.memsw.usage_in_bytes') && v1.includes('memory.stat') && v1.includes('pids.current'), 'v1 names and shared ones');
  t.notOk(v1.some((f) => ['cpu.stat', 'memory.current', 'memory.events', 'io.stat'].includes(f)), 'no v2-only names on v1');
  const v2 = cgroupFilesFor(() => 2);
  t.ok(v2.includes('memory.current') && v2.includes('io.stat') && v2.includes('memory.stat'), 'v2 names and shared ones');
  t.notOk(v2.some((f) => ['cpuacct.usage_all', 'memory.limit_in_bytes', 'blkio.throttle.io_serviced_recursive'].includes(f)), 'no v1-only names on v2');
  t.same(cgroupFilesFor(() => 0), [...CGROUP_FILES], 'every name where nothing is known');
  const hybrid = cgroupFilesFor((c) => (c === 'memory' ? 2 : 1));
  t.ok(hybrid.includes('memory.current') && hybrid.includes('cpuacct.usage_all') && !hybrid.includes('memory.limit_in_bytes'), 'per controller on a hybrid host');
});

t.test('samples written as text render as the same samples held in a set', async (t) => {
  const readings = ['c1', 'c2'].map((name) => ({ project: 'p1', name, files: readTree('v1'), bootTime: 1700000000, filesystems: [{ device: '/dev/loop0', mountpoint: '/', fstype: 'btrfs', sizeBytes: 1e9, availBytes: 5e8, freeBytes: 4e8 }], now: 1700000100 }));
  const viaSets = new MetricSet();
  viaSets.add('UptimeSeconds', 3);
  for (const r of readings) viaSets.merge(containerMetrics(r, host()));
  const text = new MetricText();
  for (const r of readings) writeContainerMetrics(r, host(), text.labelled(containerLabels(r)));
  const viaText = new MetricSet();
  viaText.add('UptimeSeconds', 3);
  viaText.mergeText(text);
  t.equal(viaText.render(), viaSets.render());
  t.match(viaText.render(), /^incus_cpu_seconds_total\{cpu="0",mode="system",name="c2",project="p1",type="container"\} /m, 'families hold every instance, labels in name order');
  const labelled = new MetricText();
  labelled.labelled({ type: 'container', name: 'x"y' }).add('ProcsTotal', 1, { z: '1', a: '2' });
  const one = new MetricSet();
  one.mergeText(labelled);
  t.match(one.render(), /^incus_procs_total\{a="2",name="x\\"y",type="container",z="1"\} 1$/m, 'labels given out of order are sorted and escaped');
  t.throws(() => new MetricSet({ project: 'p' }).mergeText(text), TypeError, 'text merges only into a set without labels');
});

t.test('render: memory gauges, boot time counter, label values escaped', async (t) => {
  const set = new MetricSet();
  set.add('MemoryActiveBytes', 1);
  set.add('BootTimeSeconds', 1700000000);
  set.add('FilesystemSizeBytes', 10, { device: 'a"b\\c', mountpoint: '/mnt', fstype: 'ext4' });
  const text = set.render();
  t.match(text, /^# TYPE incus_memory_Active_bytes gauge$/m);
  t.match(text, /^# TYPE incus_boot_time_seconds counter$/m);
  t.match(text, /^incus_boot_time_seconds 1\.7e\+09$/m);
  t.match(text, /^incus_filesystem_size_bytes\{device="a\\"b\\\\c",fstype="ext4",mountpoint="\/mnt"\} 10$/m);
  t.ok(text.indexOf('incus_boot_time_seconds') < text.indexOf('incus_filesystem_size_bytes'), 'boot time comes first (Incus order)');
});

t.test('cgroup v1 tree: cpuacct.usage_all per CPU, memory totals, memsw swap, oom_control, blkio, pids', async (t) => {
  const set = containerMetrics({ project: 'p1', name: 'c1', files: readTree('v1'), bootTime: 1700000000, filesystems: [], now: 1700000100 }, host());
  t.same(values(set, 'CPUSecondsTotal'), { 'cpu=0,mode=system': 0.25, 'cpu=0,mode=user': 1.5, 'cpu=1,mode=system': 0.5, 'cpu=1,mode=user': 2 });
  t.equal(one(set, 'CPUs'), 2);
  t.equal(one(set, 'MemoryActiveAnonBytes'), 917504, 'total_ lines win over the cgroup-local ones');
  t.equal(one(set, 'MemoryActiveFileBytes'), 1048576);
  t.equal(one(set, 'MemoryActiveBytes'), 917504 + 1048576);
  t.equal(one(set, 'MemoryInactiveBytes'), 131072 + 2097152);
  t.equal(one(set, 'MemoryCachedBytes'), 3145728);
  t.equal(one(set, 'MemoryRSSBytes'), 1048576);
  t.equal(one(set, 'MemoryShmemBytes'), 65536);
  t.equal(one(set, 'MemoryMappedBytes'), 524288);
  t.equal(one(set, 'MemoryDirtyBytes'), 12288);
  t.equal(one(set, 'MemoryWritebackBytes'), 4096);
  t.equal(one(set, 'MemoryUnevictableBytes'), 0);
  t.equal(one(set, 'MemoryMemTotalBytes'), 268435456, 'the cgroup limit');
  t.equal(one(set, 'MemoryMemFreeBytes'), 268435456 - 4194304);
  t.equal(one(set, 'MemoryMemAvailableBytes'), 268435456 - 4194304 + 3145728);
  t.equal(one(set, 'MemorySwapBytes'), 4718592 - 4194304, 'memsw minus memory');
  t.equal(one(set, 'MemoryOOMKillsTotal'), 2);
  t.same(values(set, 'DiskReadBytesTotal'), { 'device=vda': 1048576 }, 'loop devices left out');
  t.same(values(set, 'DiskWrittenBytesTotal'), { 'device=vda': 2097152 });
  t.same(values(set, 'DiskReadsCompletedTotal'), { 'device=vda': 16 });
  t.same(values(set, 'DiskWritesCompletedTotal'), { 'device=vda': 32 });
  t.equal(one(set, 'ProcsTotal'), 3);
  t.equal(one(set, 'BootTimeSeconds'), 1700000000);
  t.equal(one(set, 'TimeSeconds'), 1700000100);
  t.same(values(set, 'NetworkReceiveBytesTotal'), { 'device=lo': 640, 'device=eth0': 123456 });
  t.same(values(set, 'NetworkTransmitDropTotal'), { 'device=lo': 0, 'device=eth0': 4 });
  t.same(set.get('ProcsTotal')[0]!.labels, { project: 'p1', name: 'c1', type: 'container' });
  t.same(set.get('HugepagesFree' as MetricKey), [], 'no hugetlb figures for containers (as Incus)');
});

t.test('cgroup v2 tree: cpu.stat as CPU 0, memory.max "max" reads as host memory, memory.events, io.stat', async (t) => {
  const set = containerMetrics({ project: 'default', name: 'c1', files: readTree('v2'), bootTime: null, filesystems: [], now: 1 }, host());
  t.same(values(set, 'CPUSecondsTotal'), { 'cpu=0,mode=system': 1.5, 'cpu=0,mode=user': 3.5 });
  t.equal(one(set, 'CPUs'), 5, '0-3,6');
  t.equal(one(set, 'MemoryCachedBytes'), 3145728, '"file"');
  t.equal(one(set, 'MemoryMappedBytes'), 524288);
  t.equal(one(set, 'MemoryUnevictableBytes'), 8192);
  t.equal(one(set, 'MemoryActiveBytes'), 917504 + 1048576);
  t.equal(one(set, 'MemoryRSSBytes'), undefined, 'v2 has no rss line');
  t.equal(one(set, 'MemoryMemTotalBytes'), 8 * GIB);
  t.equal(one(set, 'MemoryMemFreeBytes'), 8 * GIB - 4194304);
  t.equal(one(set, 'MemoryMemAvailableBytes'), 8 * GIB - 4194304 + 3145728);
  t.equal(one(set, 'MemorySwapBytes'), 524288);
  t.equal(one(set, 'MemoryOOMKillsTotal'), 1);
  t.same(values(set, 'DiskReadBytesTotal'), { 'device=vda': 1048576 });
  t.same(values(set, 'DiskWritesCompletedTotal'), { 'device=vda': 32 });
  t.equal(one(set, 'ProcsTotal'), 5);
  t.equal(one(set, 'BootTimeSeconds'), undefined, 'unknown start: no sample');
});

t.test('a limit above host memory reads as host memory; no memory controller, no memory samples', async (t) => {
  const files = readTree('v1');
  files['memory.limit_in_bytes'] = '9223372036854771712\n';
  const set = containerMetrics({ project: 'default', name: 'c1', files, bootTime: null, filesystems: [], now: 1 }, host());
  t.equal(one(set, 'MemoryMemTotalBytes'), 8 * GIB);
  const bare = containerMetrics({ project: 'default', name: 'c1', files: { 'pids.current': '1\n' }, bootTime: null, filesystems: [], now: 1 }, host());
  t.equal(bare.get('MemoryMemTotalBytes').length, 0);
  t.equal(bare.get('CPUSecondsTotal').length, 0);
  t.equal(one(bare, 'ProcsTotal'), 1);
});

t.test('net/dev, cpusets, fs type names', async (t) => {
  t.same(parseNetDev('Inter-|\n face |\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  bad: 1 2\n'), [
    { device: 'eth0', receiveBytes: 1, receivePackets: 2, receiveErrs: 3, receiveDrop: 4, transmitBytes: 9, transmitPackets: 10, transmitErrs: 11, transmitDrop: 12 },
  ]);
  t.equal(countCpuSet('0'), 1);
  t.equal(countCpuSet('0-7,9,12-13\n'), 11);
  t.equal(countCpuSet(''), null);
  t.equal(countCpuSet('x'), null);
  t.equal(fsTypeName(0xef53), 'ext4');
  t.equal(fsTypeName(0x9123683e), 'btrfs');
  t.equal(fsTypeName(0x794c7630), '0x794c7630');
});

function caller(over: Partial<Caller>): Caller {
  return { protocol: 'tls', fingerprint: null, certificate: undefined, trusted: false, projects: null, ...over };
}

function cert(type: 'client' | 'metrics', projects: string[] | null): Certificate {
  return { type, name: 'x', fingerprint: 'f', certificate: '', restricted: projects !== null, projects: projects ?? [], description: '' } as Certificate;
}

t.test('who reads /1.0/metrics', async (t) => {
  t.equal(metricsAccess(caller({}), true, 'default'), 'deny', 'untrusted');
  t.equal(metricsAccess(caller({}), false, 'default'), 'all', 'untrusted with core.metrics_authentication=false');
  t.equal(metricsAccess(caller({ protocol: 'unix', trusted: true }), true, 'default'), 'all');
  t.equal(metricsAccess(caller({ trusted: true, certificate: cert('client', null) }), true, 'default'), 'all');
  t.equal(metricsAccess(caller({ certificate: cert('metrics', null) }), true, 'default'), 'all', 'an unrestricted metrics certificate');
  t.same(metricsAccess(caller({ certificate: cert('metrics', ['p1']) }), true, 'default'), { projects: ['p1'] }, 'a restricted metrics certificate: its projects\' instances, not the daemon\'s samples');
  t.same(metricsAccess(caller({ trusted: true, certificate: cert('client', ['p1']), projects: ['p1'] }), true, 'p1'), { projects: ['p1'] });
  t.same(
    metricsAccess(caller({ trusted: true, certificate: cert('client', ['p1']), projects: ['p1'] }), true, 'default'),
    { projects: [] },
    'a restricted client asking about another project sees nothing',
  );
});

t.test('core.metrics_address: default port 8444, only the metrics paths served', async (t) => {
  t.equal(metricsListenAddress(''), '');
  t.equal(metricsListenAddress('127.0.0.1'), '127.0.0.1:8444');
  t.equal(metricsListenAddress(':9100'), ':9100');
  t.equal(metricsListenAddress('192.0.2.1:9100'), '192.0.2.1:9100');
  t.equal(metricsListenAddress('[::1]'), '[::1]:8444');
  t.equal(metricsListenAddress('[::1]:9100'), '[::1]:9100');
  t.equal(metricsListenAddress('::'), '[::]:8444');
  const seen: string[] = [];
  const handler = metricsOnly((req) => seen.push(req.url ?? ''));
  const reply = { code: 0, body: '', writeHead(c: number) { this.code = c; }, end(b: string) { this.body = b; } };
  for (const url of ['/', '/1.0', '/1.0/metrics?project=p1', '/1.0/metrics/']) handler({ url } as never, reply as never);
  t.same(seen, ['/', '/1.0', '/1.0/metrics?project=p1', '/1.0/metrics/']);
  handler({ url: '/1.0/instances' } as never, reply as never);
  t.equal(reply.code, 404);
  t.match(JSON.parse(reply.body), { error_code: 404, error: 'not found' });
});
