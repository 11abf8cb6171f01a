/**
 * The daemon's own samples, as Incus's internalMetrics and the storage pool
 * part of metricsGet (cmd/incusd/api_metrics.go): warnings, running
 * operations, per-project resource counts, limits and usage, daemon uptime,
 * and each pool's size and use. Incus's incus_go_* families describe the Go
 * runtime and have no counterpart here.
 */
import type { DaemonState } from '../state';
import { currentAllocations } from '../projects/state';
import { messageOf } from '../errors';
import { MetricSet } from './openmetrics';

/** Operation status codes below this are still running (Running 103, Pending 105, Cancelling 104). */
const FIRST_FINAL_STATUS = 200;

async function projectMetrics(s: DaemonState, out: MetricSet): Promise<void> {
  const volumes = await s.db.pools.volumeCounts('custom');
  for (const p of await s.db.projects.list()) {
    const instances = await s.db.instances.countByType(p.name);
    const counts: Record<string, number> = {
      containers: instances.container ?? 0,
      'virtual-machines': instances['virtual-machine'] ?? 0,
      images: (await s.db.images.list(p.name)).length,
      profiles: (await s.db.profiles.list(p.name)).length,
      networks: (await s.db.networks.list(p.name)).length,
      'storage-volumes': volumes.get(p.name) ?? 0,
    };
    for (const [resource, n] of Object.entries(counts)) out.add('ProjectResourcesTotal', n, { project: p.name, resource });
    if (!Object.keys(p.config).some((k) => k.startsWith('limits.'))) continue;
    try {
      for (const [resource, a] of Object.entries(await currentAllocations(s.db, p.name))) {
        out.add('ProjectLimit', a.Limit, { project: p.name, resource });
        out.add('ProjectUsage', a.Usage, { project: p.name, resource });
      }
    } catch (err) {
      s.log.warn('Failed to get project allocations', { project: p.name, err: messageOf(err) });
    }
  }
}

export async function internalMetrics(s: DaemonState): Promise<MetricSet> {
  const out = new MetricSet();
  out.add('WarningsTotal', (await s.db.warnings.list()).length);
  out.add('OperationsTotal', s.ops.list(null).filter((op) => op.status_code < FIRST_FINAL_STATUS).length);
  await projectMetrics(s, out);
  out.add('UptimeSeconds', (Date.now() - s.startedAt.getTime()) / 1000);
  for (const pool of await s.pools.list()) {
    try {
      const res = await s.pools.resources(pool);
      const labels = { pool: pool.name, driver: pool.driver };
      out.add('StoragePoolUsedBytes', res.space.used, labels);
      out.add('StoragePoolSizeBytes', res.space.total, labels);
    } catch (err) {
      s.log.warn('Failed getting storage pool resources', { pool: pool.name, err: messageOf(err) });
    }
  }
  return out;
}
