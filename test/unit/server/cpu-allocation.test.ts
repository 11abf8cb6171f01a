import t from 'tap';
import { allocatedTime } from '../../../lib/server/instance/drivers/lxc/cpu-allocation';

t.test('cpu.allocated_time as Incus computes it', async (t) => {
  t.equal(allocatedTime({ 'cpuset.effective_cpus': '0-1\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n' }), 2_000_000_000, 'no quota: a second per CPU');
  t.equal(allocatedTime({ 'cpuset.effective_cpus': '0\n', 'cpu.cfs_quota_us': '-1\n', 'cpu.cfs_period_us': '100000\n' }), 1_000_000_000);
  t.equal(allocatedTime({ 'cpuset.effective_cpus': '0-1', 'cpu.cfs_quota_us': '100000', 'cpu.cfs_period_us': '200000' }), 500_000_000, 'quota over period');
  t.equal(allocatedTime({ 'cpuset.cpus.effective': '0-3\n', 'cpu.max': 'max 100000\n' }), 4_000_000_000, 'v2 without a quota');
  t.equal(allocatedTime({ 'cpuset.cpus.effective': '0-3\n', 'cpu.max': '50000 100000\n' }), 500_000_000, 'v2 quota');
  t.equal(allocatedTime({}), 0, 'nothing readable');
});
