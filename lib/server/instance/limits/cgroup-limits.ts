/**
 * limits.* keys turned into cgroup settings for the controller version the
 * host uses: v1 file names (memory.limit_in_bytes ...) or v2 ones
 * (memory.max ...). The same list feeds the liblxc config at start
 * (lxc.cgroup.* / lxc.cgroup2.*) and live updates (set_cgroup_item).
 */
import { parseSize } from '../config/units';
import { isTrue } from '../config-keys';
import type { HostCgroups } from './host-cgroups';

export interface CgroupSetting {
  /** Controller file, e.g. memory.max. */
  key: string;
  value: string;
  version: 1 | 2;
}

export interface LimitsHost {
  cgroups: HostCgroups;
  /** Total host memory in bytes, for percentages. */
  memTotal: number;
}

/** Incus's CPU share and CFS numbers from limits.cpu.allowance and limits.cpu.priority. */
export function parseCpu(allowance: string | undefined, priority: string | undefined): { weight: number; quota: number; period: number } {
  const prio = priority ? Number(priority) : 10;
  let weight = -(10 - prio);
  let quota = -1;
  let period = -1;
  if (allowance && allowance.endsWith('%')) {
    weight += Number(allowance.slice(0, -1));
  } else if (allowance) {
    const m = /^(\d+)ms\/(\d+)ms$/.exec(allowance);
    if (!m) throw new Error(`Invalid CPU allowance "${allowance}"`);
    quota = Number(m[1]) * 1000;
    period = Number(m[2]) * 1000;
    weight += 100;
  } else {
    weight += 100;
  }
  return { weight: Math.max(weight, 1), quota, period };
}

/** Bytes for limits.memory (absolute or a percentage of host memory); null when unset. */
export function memoryLimit(value: string | undefined, memTotal: number): number | null {
  if (!value) return null;
  if (value.endsWith('%')) return Math.floor((memTotal * Number(value.slice(0, -1))) / 100);
  return parseSize(value);
}

/**
 * The settings for every limits.* key of config (cpuset is handled by CPU
 * pinning, which needs the other instances). Unset keys reset to "no limit"
 * so that a live update can lift a limit.
 */
export function cgroupSettings(config: Record<string, string>, host: LimitsHost): CgroupSetting[] {
  const out: CgroupSetting[] = [];
  const v = host.cgroups.version.bind(host.cgroups);

  const mem = memoryLimit(config['limits.memory'], host.memTotal);
  const soft = config['limits.memory.enforce'] === 'soft';
  const swapOff = config['limits.memory.swap'] !== undefined && !isTrue(config['limits.memory.swap']);
  if (v('memory') === 1) {
    const memsw = host.cgroups.hasV1File('memory', 'memory.memsw.limit_in_bytes');
    // memsw must never be below the memory limit: lift it first, then set both.
    if (memsw) out.push({ key: 'memory.memsw.limit_in_bytes', value: '-1', version: 1 });
    out.push({ key: 'memory.limit_in_bytes', value: mem !== null && !soft ? String(mem) : '-1', version: 1 });
    out.push({ key: 'memory.soft_limit_in_bytes', value: mem !== null && soft ? String(mem) : '-1', version: 1 });
    if (memsw && mem !== null && !soft && swapOff) out.push({ key: 'memory.memsw.limit_in_bytes', value: String(mem), version: 1 });
    if (config['limits.memory.swap.priority'] !== undefined && host.cgroups.hasV1File('memory', 'memory.swappiness')) {
      out.push({ key: 'memory.swappiness', value: String(60 - 10 + Number(config['limits.memory.swap.priority'])), version: 1 });
    }
  } else if (v('memory') === 2) {
    out.push({ key: 'memory.max', value: mem !== null && !soft ? String(mem) : 'max', version: 2 });
    out.push({ key: 'memory.high', value: mem !== null && soft ? String(mem) : 'max', version: 2 });
    out.push({ key: 'memory.swap.max', value: swapOff ? '0' : 'max', version: 2 });
  }

  const cpu = parseCpu(config['limits.cpu.allowance'], config['limits.cpu.priority']);
  if (v('cpu') === 1) {
    out.push({ key: 'cpu.shares', value: String(Math.max(2, Math.round((cpu.weight * 1024) / 100))), version: 1 });
    out.push({ key: 'cpu.cfs_period_us', value: String(cpu.period > 0 ? cpu.period : 100000), version: 1 });
    out.push({ key: 'cpu.cfs_quota_us', value: String(cpu.quota > 0 ? cpu.quota : -1), version: 1 });
  } else if (v('cpu') === 2) {
    out.push({ key: 'cpu.weight', value: String(cpu.weight), version: 2 });
    out.push({ key: 'cpu.max', value: cpu.quota > 0 ? `${cpu.quota} ${cpu.period}` : 'max 100000', version: 2 });
  }

  const procs = config['limits.processes'];
  const pv = v('pids');
  if (pv !== 0) out.push({ key: 'pids.max', value: procs ? procs : 'max', version: pv });

  const disk = config['limits.disk.priority'];
  if (disk !== undefined) {
    const weight = Math.max(Number(disk) * 100, 10);
    if (v('blkio') === 1) {
      const file = host.cgroups.hasV1File('blkio', 'blkio.weight') ? 'blkio.weight' : 'blkio.bfq.weight';
      out.push({ key: file, value: String(weight), version: 1 });
    } else if (v('io') === 2) {
      out.push({ key: 'io.weight', value: `default ${weight}`, version: 2 });
    }
  }
  return out;
}

