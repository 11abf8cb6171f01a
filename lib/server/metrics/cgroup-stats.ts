/**
 * A container's figures from the raw text of its cgroup files, v1 or v2 per
 * controller (a host may be hybrid), as Incus's cgroup abstraction reads
 * them for metrics (internal/server/cgroup/abstraction.go before v1 was
 * dropped: GetCPUAcctUsageAll, GetEffectiveCPUs, GetMemoryStats,
 * GetMemoryLimit/Usage, GetMemorySwapUsage, GetOOMKills, GetIOStats,
 * GetProcessesUsage). Pure: the native batch reads, this parses.
 */
import type { Controller } from '../instance/limits/host-cgroups';

/** The cgroup files to read for each running container, by leaf name (v1 and v2 both listed: absent ones are skipped). */
export const CGROUP_FILES = [
  // v1
  'cpuacct.usage_all',
  'cpuset.effective_cpus',
  'memory.stat',
  'memory.limit_in_bytes',
  'memory.usage_in_bytes',
  'memory.memsw.usage_in_bytes',
  'memory.oom_control',
  'blkio.throttle.io_service_bytes_recursive',
  'blkio.throttle.io_serviced_recursive',
  'pids.current',
  // v2 (memory.stat and pids.current are shared)
  'cpu.stat',
  'cpuset.cpus.effective',
  'memory.max',
  'memory.current',
  'memory.swap.current',
  'memory.events',
  'io.stat',
] as const;

type CgroupFile = (typeof CGROUP_FILES)[number];

/** The controller each file belongs to, and the one cgroup version that has it (0: both). */
const FILE_HIERARCHY: Readonly<Record<CgroupFile, readonly [Controller, 0 | 1 | 2]>> = {
  'cpuacct.usage_all': ['cpu', 1],
  'cpuset.effective_cpus': ['cpuset', 1],
  'memory.stat': ['memory', 0],
  'memory.limit_in_bytes': ['memory', 1],
  'memory.usage_in_bytes': ['memory', 1],
  'memory.memsw.usage_in_bytes': ['memory', 1],
  'memory.oom_control': ['memory', 1],
  'blkio.throttle.io_service_bytes_recursive': ['blkio', 1],
  'blkio.throttle.io_serviced_recursive': ['blkio', 1],
  'pids.current': ['pids', 0],
  'cpu.stat': ['cpu', 2],
  'cpuset.cpus.effective': ['cpuset', 2],
  'memory.max': ['memory', 2],
  'memory.current': ['memory', 2],
  'memory.swap.current': ['memory', 2],
  'memory.events': ['memory', 2],
  'io.stat': ['io', 2],
};

/**
 * The files worth reading on a host whose controllers are of these
 * versions: those of the other version are left out when the controller's
 * version is known (a scrape of a thousand containers would only fail to
 * open them), kept when it is not.
 */
export function cgroupFilesFor(version: (c: Controller) => 0 | 1 | 2): string[] {
  return CGROUP_FILES.filter((f) => {
    const [controller, only] = FILE_HIERARCHY[f];
    const v = version(controller);
    return only === 0 || v === 0 || v === only;
  });
}

/** Raw file text by leaf name, as batchState returns it. */
export type CgroupFiles = Readonly<Record<string, string>>;

export interface CpuTime {
  /** The CPU number ("0" for v2, which has no per-CPU figures). */
  cpu: string;
  userSeconds: number;
  systemSeconds: number;
}

export interface DiskStats {
  /** Name from /proc/partitions ("" when the device is not listed there, as in Incus). */
  device: string;
  readBytes: number;
  readsCompleted: number;
  writtenBytes: number;
  writesCompleted: number;
}

/** memory.stat keys as Incus names them (GetMemoryStats), bytes. */
export type MemoryStatKey =
  | 'active_anon' | 'active_file' | 'inactive_anon' | 'inactive_file' | 'unevictable' | 'writeback' | 'dirty' | 'mapped' | 'rss' | 'shmem' | 'cache' | 'active' | 'inactive';

export interface CgroupStats {
  cpu: CpuTime[] | null;
  /** Effective CPUs of the cpuset, or null when unknown. */
  cpus: number | null;
  /** Only the keys memory.stat had, plus the computed active and inactive; null without memory.stat. */
  memory: Partial<Record<MemoryStatKey, number>> | null;
  /** memory.limit_in_bytes / memory.max (null for "max" or absent). */
  memoryLimit: number | null;
  memoryUsage: number | null;
  /** Swap in use (v1: memsw minus memory), null where swap is not accounted. */
  swap: number | null;
  oomKills: number | null;
  /** null when neither blkio (v1) nor io.stat (v2) could be read. */
  disk: DiskStats[] | null;
  procs: number | null;
}

/** memory.stat line names (v1 hierarchical totals and v2) to Incus's keys. */
const MEMORY_KEYS: Readonly<Record<string, MemoryStatKey>> = {
  total_active_anon: 'active_anon',
  active_anon: 'active_anon',
  total_active_file: 'active_file',
  active_file: 'active_file',
  total_inactive_anon: 'inactive_anon',
  inactive_anon: 'inactive_anon',
  total_inactive_file: 'inactive_file',
  inactive_file: 'inactive_file',
  total_unevictable: 'unevictable',
  unevictable: 'unevictable',
  total_writeback: 'writeback',
  file_writeback: 'writeback',
  total_dirty: 'dirty',
  file_dirty: 'dirty',
  total_mapped_file: 'mapped',
  file_mapped: 'mapped',
  total_rss: 'rss',
  total_shmem: 'shmem',
  shmem: 'shmem',
  total_cache: 'cache',
  file: 'cache',
};

const INTEGER = /^\s*-?\d+\s*$/;

function int(text: string | undefined): number | null {
  if (text === undefined) return null;
  // Number() ignores the whitespace around the digits: no trimmed copy is made.
  return INTEGER.test(text) ? Number(text) : null;
}

/** "key value" lines (cpu.stat, memory.events, memory.oom_control). */
function keyed(text: string | undefined, key: string): number | null {
  if (text === undefined) return null;
  for (const line of text.split('\n')) {
    const [k, v, extra] = line.trim().split(/\s+/);
    if (k === key && extra === undefined) return int(v);
  }
  return null;
}

/** Per-CPU user/system time: v1 cpuacct.usage_all (ns), else v2 cpu.stat user_usec/system_usec as CPU "0". */
export function parseCpuTimes(files: CgroupFiles): CpuTime[] | null {
  const all = files['cpuacct.usage_all'];
  if (all !== undefined) {
    const out: CpuTime[] = [];
    for (const line of all.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 3 || f[0] === 'cpu') continue;
      const [id, user, system] = [int(f[0]), int(f[1]), int(f[2])];
      if (id === null || user === null || system === null) continue;
      out.push({ cpu: String(id), userSeconds: user / 1e9, systemSeconds: system / 1e9 });
    }
    return out;
  }
  const user = keyed(files['cpu.stat'], 'user_usec');
  const system = keyed(files['cpu.stat'], 'system_usec');
  if (user === null && system === null) return null;
  return [{ cpu: '0', userSeconds: ((user ?? 0) * 1000) / 1e9, systemSeconds: ((system ?? 0) * 1000) / 1e9 }];
}

/** The number of CPUs in a cpuset list ("0-3,6"); null when it does not parse (Incus's parseCPUSet). */
export function countCpuSet(set: string | undefined): number | null {
  if (set === undefined || set.trim() === '') return null;
  let n = 0;
  for (const part of set.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return null;
    n += m[2] === undefined ? 1 : Math.max(0, Number(m[2]) - Number(m[1]) + 1);
  }
  return n > 0 ? n : null;
}

/**
 * The memory.stat lines Incus reads, and no others: a scrape parses a
 * thousand of these files, and splitting every line of each into strings
 * is most of what it would allocate.
 */
const MEMORY_LINE = new RegExp(`^(${Object.keys(MEMORY_KEYS).join('|')}) (\\d+)$`, 'gm');

export function parseMemoryStat(text: string | undefined): Partial<Record<MemoryStatKey, number>> | null {
  if (text === undefined) return null;
  const out: Partial<Record<MemoryStatKey, number>> = {};
  MEMORY_LINE.lastIndex = 0;
  for (let m = MEMORY_LINE.exec(text); m !== null; m = MEMORY_LINE.exec(text)) out[MEMORY_KEYS[m[1]!]!] = Number(m[2]);
  out.active = (out.active_anon ?? 0) + (out.active_file ?? 0);
  out.inactive = (out.inactive_anon ?? 0) + (out.inactive_file ?? 0);
  return out;
}

/** major:minor to device name, from /proc/partitions. */
export function parsePartitions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[0] === 'major') continue;
    out.set(`${f[0]}:${f[1]}`, f[3]!);
  }
  return out;
}

function emptyDisk(device: string): DiskStats {
  return { device, readBytes: 0, readsCompleted: 0, writtenBytes: 0, writesCompleted: 0 };
}

/** v1: blkio.throttle.io_service_bytes_recursive and io_serviced_recursive ("8:0 Read 4096"). */
function parseBlkio(bytes: string, ios: string, partitions: ReadonlyMap<string, string>): DiskStats[] {
  const byDevice = new Map<string, DiskStats>();
  const apply = (text: string, read: keyof DiskStats, write: keyof DiskStats): void => {
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      // Loop devices (major 7) are left out, as by Incus; so is the "Total" line.
      if (f.length !== 3 || f[0]!.startsWith('7:')) continue;
      const device = partitions.get(f[0]!) ?? '';
      let d = byDevice.get(device);
      if (!d) byDevice.set(device, (d = emptyDisk(device)));
      const v = int(f[2]) ?? 0;
      if (f[1] === 'Read') (d[read] as number) = v;
      else if (f[1] === 'Write') (d[write] as number) = v;
    }
  };
  apply(bytes, 'readBytes', 'writtenBytes');
  apply(ios, 'readsCompleted', 'writesCompleted');
  return [...byDevice.values()];
}

/** v2: io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..."). */
function parseIoStat(text: string, partitions: ReadonlyMap<string, string>): DiskStats[] {
  const byDevice = new Map<string, DiskStats>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let devId = '';
    const d = emptyDisk('');
    for (const part of line.split(' ')) {
      if (part === '') continue;
      if (part === '(unknown)') {
        devId = '';
        continue;
      }
      // The last id wins: a kernel bug can put several on one line.
      if (part.includes(':')) {
        devId = part;
        continue;
      }
      if (devId.startsWith('7:')) continue;
      const [name, value] = part.split('=');
      const v = int(value) ?? 0;
      if (name === 'rbytes') d.readBytes = v;
      else if (name === 'wbytes') d.writtenBytes = v;
      else if (name === 'rios') d.readsCompleted = v;
      else if (name === 'wios') d.writesCompleted = v;
    }
    // Incus keeps a loop device's line with zeros; it is left out here, as on v1.
    if (devId.startsWith('7:')) continue;
    d.device = partitions.get(devId) ?? '';
    byDevice.set(d.device, d);
  }
  return [...byDevice.values()];
}

/** Everything metrics need from one container's cgroup files. */
export function parseCgroupStats(files: CgroupFiles, partitions: ReadonlyMap<string, string>): CgroupStats {
  const usage = int(files['memory.usage_in_bytes']) ?? int(files['memory.current']);
  let swap: number | null = null;
  const memsw = int(files['memory.memsw.usage_in_bytes']);
  if (memsw !== null && usage !== null) swap = memsw - usage;
  else swap = int(files['memory.swap.current']);

  let disk: DiskStats[] | null = null;
  const blkBytes = files['blkio.throttle.io_service_bytes_recursive'];
  const blkIos = files['blkio.throttle.io_serviced_recursive'];
  if (blkBytes !== undefined && blkIos !== undefined) disk = parseBlkio(blkBytes, blkIos, partitions);
  else if (files['io.stat'] !== undefined) disk = parseIoStat(files['io.stat'], partitions);

  return {
    cpu: parseCpuTimes(files),
    cpus: countCpuSet(files['cpuset.effective_cpus'] ?? files['cpuset.cpus.effective']),
    memory: parseMemoryStat(files['memory.stat']),
    memoryLimit: int(files['memory.limit_in_bytes']) ?? int(files['memory.max']),
    memoryUsage: usage,
    swap,
    // v1 memory.oom_control carries oom_kill since Linux 4.13; v2 memory.events.
    oomKills: keyed(files['memory.oom_control'], 'oom_kill') ?? keyed(files['memory.events'], 'oom_kill'),
    disk,
    procs: int(files['pids.current']),
  };
}
