/**
 * Incus's metric families (internal/server/metrics/types.go): names, HELP
 * texts and OpenMetrics types, in Incus's output order. The Go runtime
 * families (incus_go_*) describe Go's allocator and goroutines; this daemon
 * has neither, so they are left out rather than filled with Node's figures.
 */

/** One metric family as Incus declares it. */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
}

/** Families Incus types as gauges whatever their suffix (their value can decrease). */
const GAUGES = new Set(['incus_cpu_effective_total', 'incus_procs_total', 'incus_project_limit', 'incus_project_resources_total', 'incus_project_usage']);

/** Incus's rule (MetricSet.String): listed gauges, then `_total`/`_seconds` counters, `_bytes` gauges. */
function typeOf(name: string): 'counter' | 'gauge' {
  if (GAUGES.has(name)) return 'gauge';
  if (name.endsWith('_total') || name.endsWith('_seconds')) return 'counter';
  return 'gauge';
}

function family(name: string, help: string): MetricFamily {
  return { name, help, type: typeOf(name) };
}

/** The families, keyed as in Incus's MetricType constants; insertion order is Incus's output order. */
export const METRICS = {
  BootTimeSeconds: family('incus_boot_time_seconds', 'The unix epoch at the time of the instance start.'),
  CPUSecondsTotal: family('incus_cpu_seconds_total', 'The total number of CPU time used in seconds.'),
  CPUs: family('incus_cpu_effective_total', 'The total number of effective CPUs.'),
  DiskReadBytesTotal: family('incus_disk_read_bytes_total', 'The total number of bytes read.'),
  DiskReadsCompletedTotal: family('incus_disk_reads_completed_total', 'The total number of completed reads.'),
  DiskWrittenBytesTotal: family('incus_disk_written_bytes_total', 'The total number of bytes written.'),
  DiskWritesCompletedTotal: family('incus_disk_writes_completed_total', 'The total number of completed writes.'),
  FilesystemAvailBytes: family('incus_filesystem_avail_bytes', 'The number of available space in bytes.'),
  FilesystemFreeBytes: family('incus_filesystem_free_bytes', 'The number of free space in bytes.'),
  FilesystemSizeBytes: family('incus_filesystem_size_bytes', 'The size of the filesystem in bytes.'),
  MemoryActiveAnonBytes: family('incus_memory_Active_anon_bytes', 'The amount of anonymous memory on active LRU list.'),
  MemoryActiveFileBytes: family('incus_memory_Active_file_bytes', 'The amount of file-backed memory on active LRU list.'),
  MemoryActiveBytes: family('incus_memory_Active_bytes', 'The amount of memory on active LRU list.'),
  MemoryCachedBytes: family('incus_memory_Cached_bytes', 'The amount of cached memory.'),
  MemoryDirtyBytes: family('incus_memory_Dirty_bytes', 'The amount of memory waiting to get written back to the disk.'),
  MemoryHugePagesFreeBytes: family('incus_memory_HugepagesFree_bytes', 'The amount of free memory for hugetlb.'),
  MemoryHugePagesTotalBytes: family('incus_memory_HugepagesTotal_bytes', 'The amount of used memory for hugetlb.'),
  MemoryInactiveAnonBytes: family('incus_memory_Inactive_anon_bytes', 'The amount of anonymous memory on inactive LRU list.'),
  MemoryInactiveFileBytes: family('incus_memory_Inactive_file_bytes', 'The amount of file-backed memory on inactive LRU list.'),
  MemoryInactiveBytes: family('incus_memory_Inactive_bytes', 'The amount of memory on inactive LRU list.'),
  MemoryMappedBytes: family('incus_memory_Mapped_bytes', 'The amount of mapped memory.'),
  MemoryMemAvailableBytes: family('incus_memory_MemAvailable_bytes', 'The amount of available memory.'),
  MemoryMemFreeBytes: family('incus_memory_MemFree_bytes', 'The amount of free memory.'),
  MemoryMemTotalBytes: family('incus_memory_MemTotal_bytes', 'The amount of used memory.'),
  MemoryRSSBytes: family('incus_memory_RSS_bytes', 'The amount of anonymous and swap cache memory.'),
  MemoryShmemBytes: family('incus_memory_Shmem_bytes', 'The amount of cached filesystem data that is swap-backed.'),
  MemorySwapBytes: family('incus_memory_Swap_bytes', 'The amount of used swap memory.'),
  MemoryUnevictableBytes: family('incus_memory_Unevictable_bytes', 'The amount of unevictable memory.'),
  MemoryWritebackBytes: family('incus_memory_Writeback_bytes', 'The amount of memory queued for syncing to disk.'),
  MemoryOOMKillsTotal: family('incus_memory_OOM_kills_total', 'The number of out of memory kills.'),
  NetworkReceiveBytesTotal: family('incus_network_receive_bytes_total', 'The amount of received bytes on a given interface.'),
  NetworkReceiveDropTotal: family('incus_network_receive_drop_total', 'The amount of received dropped bytes on a given interface.'),
  NetworkReceiveErrsTotal: family('incus_network_receive_errs_total', 'The amount of received errors on a given interface.'),
  NetworkReceivePacketsTotal: family('incus_network_receive_packets_total', 'The amount of received packets on a given interface.'),
  NetworkTransmitBytesTotal: family('incus_network_transmit_bytes_total', 'The amount of transmitted bytes on a given interface.'),
  NetworkTransmitDropTotal: family('incus_network_transmit_drop_total', 'The amount of transmitted dropped bytes on a given interface.'),
  NetworkTransmitErrsTotal: family('incus_network_transmit_errs_total', 'The amount of transmitted errors on a given interface.'),
  NetworkTransmitPacketsTotal: family('incus_network_transmit_packets_total', 'The amount of transmitted packets on a given interface.'),
  ProcsTotal: family('incus_procs_total', 'The number of running processes.'),
  TimeSeconds: family('incus_time_seconds', 'The current unix epoch.'),
  // Incus's text lacks the final period here.
  OperationsTotal: family('incus_operations_total', 'The number of running operations'),
  WarningsTotal: family('incus_warnings_total', 'The number of active warnings.'),
  UptimeSeconds: family('incus_uptime_seconds', 'The daemon uptime in seconds.'),
  ProjectResourcesTotal: family('incus_project_resources_total', 'Current resource count in a project.'),
  ProjectLimit: family('incus_project_limit', 'Current project resource limit.'),
  ProjectUsage: family('incus_project_usage', 'Current project resource usage.'),
  StoragePoolUsedBytes: family('incus_storage_pool_used_bytes', 'The used space in bytes on a storage pool.'),
  StoragePoolSizeBytes: family('incus_storage_pool_size_bytes', 'The total space in bytes on a storage pool.'),
} as const;

export type MetricKey = keyof typeof METRICS;

/** Output rank of each family (Incus sorts by its MetricType constant). */
export const METRIC_ORDER: ReadonlyMap<MetricKey, number> = new Map((Object.keys(METRICS) as MetricKey[]).map((k, i) => [k, i]));
