/**
 * One running container's samples, as Incus's lxc Metrics() builds them
 * (driver_lxc.go): CPU seconds by CPU and mode, effective CPUs, memory.stat
 * figures, MemTotal/MemFree/MemAvailable from the effective limit, OOM kills,
 * swap, disk I/O, filesystems, interface counters, processes, boot time and
 * the current time, labelled with the instance's name, project and type.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { type CgroupFiles, type CgroupStats, type MemoryStatKey, parseCgroupStats, parsePartitions } from './cgroup-stats';
import type { FilesystemStats } from './fs-stats';
import { parseMounts } from './fs-stats';
import { type InterfaceCounters, parseNetDev } from './net-dev';
import { MetricSet, type Labels, type MetricSink } from './openmetrics';
import type { MetricKey } from './names';

/** Host facts read once per scrape. */
export interface HostFacts {
  /** major:minor to device name (/proc/partitions). */
  partitions: ReadonlyMap<string, string>;
  /** Mountpoint to source (/proc/mounts). */
  mounts: ReadonlyMap<string, string>;
  /** Host memory, bytes (the effective limit of an unlimited container). */
  memTotal: number;
}

export async function readHostFacts(): Promise<HostFacts> {
  const [partitions, mounts] = await Promise.all([
    readFile('/proc/partitions', 'utf8').catch(() => ''),
    readFile('/proc/mounts', 'utf8').catch(() => ''),
  ]);
  return { partitions: parsePartitions(partitions), mounts: parseMounts(mounts), memTotal: totalmem() };
}

/** What one container's samples are made from. */
export interface ContainerReading {
  project: string;
  name: string;
  /** Raw cgroup and /proc/<init>/ files as batchState returned them. */
  files: CgroupFiles;
  /** When init started, seconds since the epoch; null when unknown. */
  bootTime: number | null;
  filesystems: FilesystemStats[];
  /** Seconds since the epoch, now. */
  now: number;
}

const MEMORY_METRICS: ReadonlyArray<[MemoryStatKey, MetricKey]> = [
  ['active_anon', 'MemoryActiveAnonBytes'],
  ['active_file', 'MemoryActiveFileBytes'],
  ['active', 'MemoryActiveBytes'],
  ['inactive_anon', 'MemoryInactiveAnonBytes'],
  ['inactive_file', 'MemoryInactiveFileBytes'],
  ['inactive', 'MemoryInactiveBytes'],
  ['unevictable', 'MemoryUnevictableBytes'],
  ['writeback', 'MemoryWritebackBytes'],
  ['dirty', 'MemoryDirtyBytes'],
  ['mapped', 'MemoryMappedBytes'],
  ['rss', 'MemoryRSSBytes'],
  ['shmem', 'MemoryShmemBytes'],
  ['cache', 'MemoryCachedBytes'],
];

function addMemory(set: MetricSink, st: CgroupStats, memTotal: number): void {
  for (const [key, metric] of MEMORY_METRICS) {
    const v = st.memory?.[key];
    if (v !== undefined) set.add(metric, v);
  }
  // GetEffectiveMemoryLimit: the cgroup limit, or the host's memory when unlimited or larger.
  const limit = st.memoryLimit === null || st.memoryLimit > memTotal ? memTotal : st.memoryLimit;
  if (limit > 0 && st.memoryUsage !== null) {
    const cached = st.memory?.cache ?? 0;
    set.add('MemoryMemTotalBytes', limit);
    set.add('MemoryMemAvailableBytes', limit - st.memoryUsage + cached);
    set.add('MemoryMemFreeBytes', limit - st.memoryUsage);
  }
  if (st.oomKills !== null) set.add('MemoryOOMKillsTotal', st.oomKills);
  if (st.swap !== null) set.add('MemorySwapBytes', st.swap);
}

function addNetwork(set: MetricSink, ifaces: InterfaceCounters[]): void {
  for (const i of ifaces) {
    const labels = { device: i.device };
    set.add('NetworkReceiveBytesTotal', i.receiveBytes, labels);
    set.add('NetworkReceivePacketsTotal', i.receivePackets, labels);
    set.add('NetworkTransmitBytesTotal', i.transmitBytes, labels);
    set.add('NetworkTransmitPacketsTotal', i.transmitPackets, labels);
    set.add('NetworkReceiveErrsTotal', i.receiveErrs, labels);
    set.add('NetworkTransmitErrsTotal', i.transmitErrs, labels);
    set.add('NetworkReceiveDropTotal', i.receiveDrop, labels);
    set.add('NetworkTransmitDropTotal', i.transmitDrop, labels);
  }
}

/** The labels every sample of a container carries. */
export function containerLabels(r: Pick<ContainerReading, 'project' | 'name'>): Labels {
  return { project: r.project, name: r.name, type: 'container' };
}

/** The samples of one running container, as a set (tests read them back). */
export function containerMetrics(r: ContainerReading, host: HostFacts): MetricSet {
  const set = new MetricSet(containerLabels(r));
  writeContainerMetrics(r, host, set);
  return set;
}

/** Writes one running container's samples to `set`, which labels them with containerLabels. */
export function writeContainerMetrics(r: ContainerReading, host: HostFacts, set: MetricSink): void {
  const st = parseCgroupStats(r.files, host.partitions);
  addMemory(set, st, host.memTotal);
  for (const c of st.cpu ?? []) {
    set.add('CPUSecondsTotal', c.systemSeconds, { cpu: c.cpu, mode: 'system' });
    set.add('CPUSecondsTotal', c.userSeconds, { cpu: c.cpu, mode: 'user' });
  }
  if (st.cpus !== null) set.add('CPUs', st.cpus);
  for (const d of st.disk ?? []) {
    const labels = { device: d.device };
    set.add('DiskReadBytesTotal', d.readBytes, labels);
    set.add('DiskReadsCompletedTotal', d.readsCompleted, labels);
    set.add('DiskWrittenBytesTotal', d.writtenBytes, labels);
    set.add('DiskWritesCompletedTotal', d.writesCompleted, labels);
  }
  for (const f of r.filesystems) {
    const labels = { device: f.device, fstype: f.fstype, mountpoint: f.mountpoint };
    set.add('FilesystemSizeBytes', f.sizeBytes, labels);
    set.add('FilesystemAvailBytes', f.availBytes, labels);
    set.add('FilesystemFreeBytes', f.freeBytes, labels);
  }
  const netDev = r.files['proc/net/dev'];
  if (netDev !== undefined) addNetwork(set, parseNetDev(netDev));
  if (st.procs !== null) set.add('ProcsTotal', st.procs);
  if (r.bootTime !== null) set.add('BootTimeSeconds', r.bootTime);
  set.add('TimeSeconds', r.now);
}
