/**
 * `cpu.allocated_time` of a running container's state, as Incus's cpuState
 * computes it: one second per effective CPU, or the CFS quota over its
 * period when one is set (cgroup v1 files, or v2's cpu.max).
 */
import { countCpuSet } from '../../../metrics/cgroup-stats';

/** The cgroup files batchState reads for it (v1 and v2 names). */
export const CPU_ALLOCATION_FILES = ['cpuset.effective_cpus', 'cpuset.cpus.effective', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpu.max'];

/** Nanoseconds of CPU time per second the container may use; 0 when the files are unreadable. */
export function allocatedTime(files: Readonly<Record<string, string>>): number {
  let quota: number;
  let period: number;
  const max = files['cpu.max'];
  if (max !== undefined) {
    const [q, p] = max.trim().split(/\s+/);
    quota = q === 'max' ? -1 : Number(q);
    period = Number(p);
  } else {
    quota = Number((files['cpu.cfs_quota_us'] ?? '').trim() || NaN);
    period = Number((files['cpu.cfs_period_us'] ?? '').trim() || NaN);
  }
  if (quota === -1) {
    const cpus = countCpuSet(files['cpuset.effective_cpus'] ?? files['cpuset.cpus.effective']);
    return cpus === null ? 0 : cpus * 1_000_000_000;
  }
  if (!Number.isFinite(quota) || !Number.isFinite(period) || period <= 0) return 0;
  return Math.trunc((1_000_000_000 * quota) / period);
}
