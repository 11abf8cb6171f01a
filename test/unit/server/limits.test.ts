/** cgroup limit mapping for v1 and v2 hosts, over fixture cgroup trees. */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectHostCgroups } from '../../../lib/server/instance/limits/host-cgroups';
import { cgroupSettings, parseCpu } from '../../../lib/server/instance/limits/cgroup-limits';
import { lxcCgroupLines } from '../../../lib/server/instance/drivers/lxc/config-lines';
import { CpuPinning } from '../../../lib/server/instance/limits/cpu-pinning';

function fixture(t: { teardown(f: () => void): void }, build: (root: string) => void): string {
  const root = mkdtempSync(join(tmpdir(), 'cg-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  build(root);
  return root;
}

const v2Tree = (root: string): void => {
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
};
const v1Tree = (root: string): void => {
  for (const c of ['cpu', 'cpuset', 'memory', 'pids', 'blkio']) mkdirSync(join(root, c));
  writeFileSync(join(root, 'memory', 'memory.memsw.limit_in_bytes'), '');
  writeFileSync(join(root, 'memory', 'memory.swappiness'), '');
  mkdirSync(join(root, 'unified'));
  writeFileSync(join(root, 'unified', 'cgroup.controllers'), '');
};

const GiB = 2 ** 30;

t.test('Incus CPU arithmetic', async (t) => {
  t.same(parseCpu(undefined, undefined), { weight: 100, quota: -1, period: -1 });
  t.same(parseCpu('50%', undefined), { weight: 50, quota: -1, period: -1 });
  t.same(parseCpu('25ms/100ms', '5'), { weight: 95, quota: 25000, period: 100000 });
});

t.test('v2 host', async (t) => {
  const host = { cgroups: detectHostCgroups(fixture(t, v2Tree)), memTotal: 8 * GiB };
  t.equal(host.cgroups.version('memory'), 2);
  t.equal(host.cgroups.version('io'), 2);
  const s = cgroupSettings({ 'limits.memory': '50%', 'limits.memory.swap': 'false', 'limits.cpu.allowance': '25ms/100ms', 'limits.processes': '100', 'limits.disk.priority': '5' }, host);
  const m = Object.fromEntries(s.map((x) => [x.key, x.value]));
  t.equal(m['memory.max'], String(4 * GiB));
  t.equal(m['memory.high'], 'max');
  t.equal(m['memory.swap.max'], '0');
  t.equal(m['cpu.max'], '25000 100000');
  t.equal(m['cpu.weight'], '100');
  t.equal(m['pids.max'], '100');
  t.equal(m['io.weight'], 'default 500');
  t.ok(lxcCgroupLines(s).includes('lxc.cgroup2.memory.max = 4294967296'));
  const soft = Object.fromEntries(cgroupSettings({ 'limits.memory': '1GiB', 'limits.memory.enforce': 'soft' }, host).map((x) => [x.key, x.value]));
  t.equal(soft['memory.max'], 'max');
  t.equal(soft['memory.high'], String(GiB));
});

t.test('v1 host', async (t) => {
  const host = { cgroups: detectHostCgroups(fixture(t, v1Tree)), memTotal: 8 * GiB };
  t.equal(host.cgroups.version('memory'), 1);
  const s = cgroupSettings({ 'limits.memory': '64MiB', 'limits.memory.swap': 'false', 'limits.cpu.allowance': '20%', 'limits.disk.priority': '0' }, host);
  const keys = s.map((x) => `${x.key}=${x.value}`);
  t.ok(keys.indexOf('memory.memsw.limit_in_bytes=-1') < keys.indexOf('memory.limit_in_bytes=67108864'), 'memsw lifted before the limit changes');
  t.ok(keys.includes('memory.memsw.limit_in_bytes=67108864'), 'swap off: memsw equals the limit');
  t.ok(keys.includes('cpu.shares=205'));
  t.ok(keys.includes('cpu.cfs_quota_us=-1'));
  t.ok(keys.includes('blkio.bfq.weight=10'), 'no blkio.weight file: bfq weight, minimum 10');
  t.notOk(lxcCgroupLines(s).some((l) => l.endsWith('= -1')), 'resets are not written at start');
});

t.test('CPU pinning balances counts and honours sets', async (t) => {
  const p = new CpuPinning([0, 1, 2, 3]);
  t.equal(p.assign('a', '2'), '0-1');
  t.equal(p.assign('b', '2'), '2-3', 'the next container gets the idle CPUs');
  t.equal(p.assign('c', '1-2'), '1-2');
  p.release('a');
  t.equal(p.assign('d', '1'), '0');
  t.equal(p.assign('e', undefined), null);
  t.throws(() => p.assign('f', '6-7'), /no CPU/);
  t.equal(p.assign('g', '9'), '0-3', 'a count above the host size takes every CPU');
});
