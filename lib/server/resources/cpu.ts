/**
 * CPUs (`cpu`): sockets, cores and threads from /sys/devices/system/cpu,
 * names and flags from /proc/cpuinfo (the SMBIOS processor table where it
 * has none), caches and frequency limits from sysfs; after Incus's
 * shared/resources/cpu.go. What cannot change while the host runs (a
 * socket's name, caches, limits) is read once per CpuStatics.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourcesCPU, ResourcesCPUCache, ResourcesCPUCore, ResourcesCPUSocket, ResourcesCPUThread } from '../../api/resources';
import { exists, type Host, list, parseRangedList, readInt, readTrim, sysfsNumaNode } from './host';

/** A socket's unchanging part, as read from its first thread. */
interface SocketStatic {
  name: string;
  vendor: string;
  flags: string[] | null;
  addressSizes: { physical_bits: number; virtual_bits: number } | null;
  cache: ResourcesCPUCache[] | null;
  frequencyMinimum: number;
  frequencyTurbo: number;
}

/** Keeps what cannot change between reads (socket names, caches, limits), keyed by thread path. */
export type CpuStatics = Map<string, SocketStatic>;

/** /proc/cpuinfo as one key/value map per `processor` block. */
export function parseCpuinfo(text: string): Map<number, Map<string, string>> {
  const out = new Map<number, Map<string, string>>();
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split('\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      fields.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
    const processor = fields.get('processor');
    if (processor !== undefined && /^\d+$/.test(processor)) out.set(Number(processor), fields);
  }
  return out;
}

/** A cache `size` file: `32K` or bytes. */
function cacheSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/.exec(text);
  if (!m) return 0;
  const mult = { '': 1, K: 1024, M: 1024 * 1024, G: 1024 * 1024 * 1024 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * mult;
}

async function readCaches(path: string): Promise<ResourcesCPUCache[]> {
  const out: ResourcesCPUCache[] = [];
  for (const name of await list(path)) {
    const level = await readInt(join(path, name, 'level'));
    if (level === null) continue;
    const size = await readTrim(join(path, name, 'size'));
    const type = await readTrim(join(path, name, 'type'));
    out.push({ level, type: type ?? 'Unknown', size: size === null ? 0 : cacheSize(size) });
  }
  return out;
}

/** The first frequency file present, in MHz (sysfs has kHz); 0 when none. */
async function freqMHz(dir: string, names: string[]): Promise<number> {
  for (const n of names) {
    const khz = await readInt(join(dir, n));
    if (khz !== null) return Math.floor(khz / 1000);
  }
  return 0;
}

/**
 * The processor manufacturer and version from the SMBIOS type 4 table
 * (what Incus falls back to on hosts whose cpuinfo has no names), or null.
 */
export function smbiosProcessor(table: Buffer): { vendor: string; name: string } | null {
  let i = 0;
  while (i + 4 <= table.length) {
    const type = table[i];
    const length = table[i + 1];
    if (length < 4) return null;
    // The string set follows the formatted area and ends with two NULs.
    let j = i + length;
    const strings: string[] = [];
    let start = j;
    while (j < table.length) {
      if (table[j] === 0) {
        if (j === start) break;
        strings.push(table.toString('latin1', start, j));
        start = j + 1;
      }
      j++;
    }
    const next = strings.length === 0 ? i + length + 2 : j + 1;
    if (type === 4 && strings.length >= 3 && strings[1] !== '' && strings[2] !== '') return { vendor: strings[1], name: strings[2] };
    if (type === 127) return null;
    i = next;
  }
  return null;
}

async function dmiProcessor(host: Host): Promise<{ vendor: string; name: string } | null> {
  try {
    return smbiosProcessor(await readFile(join(host.sys, 'firmware', 'dmi', 'tables', 'DMI')));
  } catch {
    return null;
  }
}

async function socketStatic(host: Host, threadPath: string, info: Map<string, string> | undefined): Promise<SocketStatic> {
  let vendor = info?.get('vendor_id') ?? '';
  let name = info?.get('model name') ?? info?.get('cpu') ?? '';
  const flagsLine = info?.get('flags');
  let addressSizes: SocketStatic['addressSizes'] = null;
  const sizes = info?.get('address sizes')?.split(' ');
  if (sizes?.length === 6 && /^\d+$/.test(sizes[0]) && /^\d+$/.test(sizes[3])) {
    addressSizes = { physical_bits: Number(sizes[0]), virtual_bits: Number(sizes[3]) };
  }
  if (vendor === '' || name === '') {
    const dmi = await dmiProcessor(host);
    if (vendor === '') vendor = dmi?.vendor ?? '';
    if (name === '') name = dmi?.name ?? '';
  }
  const cachePath = join(threadPath, 'cache');
  const freq = join(threadPath, 'cpufreq');
  return {
    name,
    vendor,
    flags: flagsLine === undefined ? null : flagsLine.split(' '),
    addressSizes,
    cache: (await exists(cachePath)) ? await readCaches(cachePath) : null,
    frequencyMinimum: await freqMHz(freq, ['cpuinfo_min_freq', 'scaling_min_freq']),
    frequencyTurbo: await freqMHz(freq, ['cpuinfo_max_freq', 'scaling_max_freq']),
  };
}

interface ThreadTopology {
  id: number;
  path: string;
  socket: number;
  core: number;
  die: number;
  cluster: number;
  /** Groups the threads of one core (core_id repeats per cluster on big.LITTLE). */
  coreKey: string;
  online: boolean;
  numaNode: number;
  frequency: number;
}

async function readThread(root: string, id: number): Promise<ThreadTopology> {
  const path = join(root, `cpu${id}`);
  const topo = join(path, 'topology');
  const [socket, core, die, cluster, siblings, coreCpus, online, numaNode, frequency] = await Promise.all([
    readInt(join(topo, 'physical_package_id')),
    readInt(join(topo, 'core_id')),
    readInt(join(topo, 'die_id')),
    readInt(join(topo, 'cluster_id')),
    readTrim(join(topo, 'thread_siblings_list')),
    readTrim(join(topo, 'core_cpus_list')),
    readInt(join(path, 'online')),
    sysfsNumaNode(path),
    freqMHz(join(path, 'cpufreq'), ['scaling_cur_freq']),
  ]);
  const nonNeg = (n: number | null) => (n === null || n < 0 ? 0 : n);
  // The kernel reports 65535 when clusters are not enumerated.
  const clusterId = cluster === 65535 ? 0 : nonNeg(cluster);
  return {
    id,
    path,
    socket: nonNeg(socket),
    core: nonNeg(core),
    die: nonNeg(die),
    cluster: clusterId,
    coreKey: siblings ?? coreCpus ?? `${nonNeg(die)}_${nonNeg(core)}`,
    online: online !== 0,
    numaNode,
    frequency,
  };
}

/** The `cpu` section. */
export async function readCPU(host: Host, statics: CpuStatics = new Map()): Promise<ResourcesCPU> {
  const root = join(host.sys, 'devices', 'system', 'cpu');
  const isolatedText = await readTrim(join(root, 'isolated'));
  const isolated = new Set(isolatedText ? (parseRangedList(isolatedText) ?? []) : []);

  const ids: number[] = [];
  for (const name of await list(root)) {
    const m = /^cpu(\d+)$/.exec(name);
    if (m && (await exists(join(root, name, 'topology')))) ids.push(Number(m[1]));
  }
  ids.sort((a, b) => a - b);
  const threads = await Promise.all(ids.map((id) => readThread(root, id)));

  let cpuinfo: Map<number, Map<string, string>> | null = null;
  const sockets = new Map<number, { st: SocketStatic; cores: Map<string, ResourcesCPUCore> }>();
  for (const t of threads) {
    let entry = sockets.get(t.socket);
    if (!entry) {
      let st = statics.get(t.path);
      if (!st) {
        cpuinfo ??= parseCpuinfo((await readTrim(join(host.proc, 'cpuinfo'))) ?? '');
        st = await socketStatic(host, t.path, cpuinfo.get(t.id));
        statics.set(t.path, st);
      }
      entry = { st, cores: new Map() };
      sockets.set(t.socket, entry);
    }
    let core = entry.cores.get(t.coreKey);
    if (!core) {
      core = { core: t.core, cluster: t.cluster, die: t.die, threads: [], ...(t.frequency ? { frequency: t.frequency } : {}), flags: entry.st.flags };
      entry.cores.set(t.coreKey, core);
    }
    const thread: ResourcesCPUThread = { id: t.id, numa_node: t.numaNode, thread: core.threads.length, online: t.online, isolated: isolated.has(t.id) };
    core.threads.push(thread);
  }

  const out: ResourcesCPUSocket[] = [];
  for (const key of [...sockets.keys()].sort((a, b) => a - b)) {
    const { st, cores } = sockets.get(key)!;
    const sorted = [...cores.values()].sort((a, b) => a.cluster - b.cluster || a.core - b.core || a.threads[0].id - b.threads[0].id);
    const freqs = sorted.map((c) => c.frequency ?? 0).filter((f) => f > 0);
    // Built in Incus's field order; empty optional fields left out as omitempty does.
    const socket: ResourcesCPUSocket = {
      ...(st.name ? { name: st.name } : {}),
      ...(st.vendor ? { vendor: st.vendor } : {}),
      socket: key,
      ...(st.cache && st.cache.length > 0 ? { cache: st.cache } : {}),
      cores: sorted,
      ...(freqs.length > 0 ? { frequency: Math.floor(freqs.reduce((a, b) => a + b, 0) / freqs.length) } : {}),
      ...(st.frequencyMinimum ? { frequency_minimum: st.frequencyMinimum } : {}),
      ...(st.frequencyTurbo ? { frequency_turbo: st.frequencyTurbo } : {}),
      ...(st.addressSizes ? { address_sizes: st.addressSizes } : {}),
    };
    out.push(socket);
  }
  return { architecture: host.machine, sockets: out, total: threads.length };
}
