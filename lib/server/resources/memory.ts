/**
 * Memory (`memory`): /proc/meminfo, the online memory blocks of
 * /sys/devices/system/memory (the real total, which meminfo lessens by the
 * kernel's reservation) and each NUMA node's meminfo; after Incus's
 * shared/resources/memory.go.
 */
import { join } from 'node:path';
import type { ResourcesMemory, ResourcesMemoryNode } from '../../api/resources';
import { exists, type Host, list, readTrim } from './host';

/** The meminfo fields Incus reads, in bytes (HugePages_* are page counts). */
export interface Meminfo {
  total: number;
  free: number;
  used: number;
  cached: number;
  buffers: number;
  hugepagesTotal: number;
  hugepagesFree: number;
  hugepagesSize: number;
}

const FIELDS: Record<string, keyof Meminfo> = {
  MemTotal: 'total',
  MemFree: 'free',
  MemUsed: 'used',
  Cached: 'cached',
  Buffers: 'buffers',
  HugePages_Total: 'hugepagesTotal',
  HugePages_Free: 'hugepagesFree',
  Hugepagesize: 'hugepagesSize',
};

/** /proc/meminfo or a node's meminfo (`Node 0 MemTotal:  123 kB`). */
export function parseMeminfo(text: string): Meminfo {
  const info: Meminfo = { total: 0, free: 0, used: 0, cached: 0, buffers: 0, hugepagesTotal: 0, hugepagesFree: 0, hugepagesSize: 0 };
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const keyWords = line.slice(0, i).trim().split(' ');
    const field = FIELDS[keyWords[keyWords.length - 1]];
    if (!field) continue;
    const m = /^(\d+)\s*(kB)?$/.exec(line.slice(i + 1).trim());
    if (m) info[field] = Number(m[1]) * (m[2] ? 1024 : 1);
  }
  return info;
}

/** Bytes in the online memory blocks under `base`; 0 when the host does not say. */
async function blockTotal(host: Host, base: string): Promise<number> {
  const sizeText = await readTrim(join(host.sys, 'devices', 'system', 'memory', 'block_size_bytes'));
  const blockSize = sizeText && /^[0-9a-fA-F]+$/.test(sizeText) ? parseInt(sizeText, 16) : 0;
  if (blockSize === 0) return 0;
  const names = (await list(base)).filter((n) => n.startsWith('memory'));
  const online = await Promise.all(names.map((n) => readTrim(join(base, n, 'online'))));
  return blockSize * online.filter((o) => o === '1').length;
}

async function readNode(host: Host, path: string, nodeNumber: number, hugepageSize: number): Promise<ResourcesMemoryNode> {
  const info = parseMeminfo((await readTrim(join(path, 'meminfo'))) ?? '');
  const total = (await blockTotal(host, path)) || info.total;
  return {
    numa_node: nodeNumber,
    hugepages_used: (info.hugepagesTotal - info.hugepagesFree) * hugepageSize,
    hugepages_total: info.hugepagesTotal * hugepageSize,
    used: info.used,
    total,
  };
}

/** The `memory` section. */
export async function readMemory(host: Host): Promise<ResourcesMemory> {
  const meminfo = await readTrim(join(host.proc, 'meminfo'));
  if (meminfo === null) throw new Error('Failed to parse /proc/meminfo');
  const info = parseMeminfo(meminfo);
  const total = (await blockTotal(host, join(host.sys, 'devices', 'system', 'memory'))) || info.total;
  const out: ResourcesMemory = {
    hugepages_total: info.hugepagesTotal * info.hugepagesSize,
    hugepages_used: (info.hugepagesTotal - info.hugepagesFree) * info.hugepagesSize,
    hugepages_size: info.hugepagesSize,
    used: Math.max(0, total - info.free - info.cached - info.buffers),
    total,
  };
  const nodeRoot = join(host.sys, 'devices', 'system', 'node');
  const nodes: Promise<ResourcesMemoryNode>[] = [];
  for (const name of await list(nodeRoot)) {
    const m = /^node(\d+)$/.exec(name);
    if (m && (await exists(join(nodeRoot, name, 'meminfo')))) nodes.push(readNode(host, join(nodeRoot, name), Number(m[1]), info.hugepagesSize));
  }
  // Incus's field order: nodes first (omitted when empty).
  return nodes.length > 0 ? { nodes: await Promise.all(nodes), ...out } : out;
}
