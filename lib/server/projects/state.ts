/**
 * `GET /1.0/projects/NAME/state`: each limited resource's limit (-1: none)
 * and usage, as Incus's GetCurrentAllocations
 * (internal/server/project/state.go) reports them. Aggregates count only
 * the instances that set the value (an unset one adds nothing here).
 */
import type { ProjectStateResource } from '../../api/project';
import type { Queries } from '../db';
import { notFound } from '../errors';
import { AGGREGATE_LIMITS, POOL_LIMIT_PREFIX, instanceCountLimit, parseAggregate, totalInstanceCountLimit, totalsOf } from './limits';
import { type ProjectInfo, expandInstances, fetchProjectInfo } from './project-info';

/** Limit and usage of every aggregate key (and pool disk limit) of an expanded project. */
function aggregateState(info: ProjectInfo, keys: readonly string[]): Record<string, ProjectStateResource> {
  const totals = totalsOf(info, keys, true);
  const out: Record<string, ProjectStateResource> = {};
  for (const key of keys) {
    const value = info.config[key];
    out[key] = { Limit: value ? parseAggregate(key, value) : -1, Usage: totals[key] ?? 0 };
  }
  return out;
}

/** The project's resources: cpu, disk, memory, processes, disk.POOL, instances, containers, virtual-machines, networks. */
export async function currentAllocations(db: Queries, project: string): Promise<Record<string, ProjectStateResource>> {
  const loaded = await fetchProjectInfo(db, project, false);
  if (!loaded) throw notFound('Project not found');
  const info = { ...loaded, instances: expandInstances(loaded.instances, loaded.profiles) };
  const poolKeys = Object.keys(info.config).filter((k) => k.startsWith(POOL_LIMIT_PREFIX));
  const raw = aggregateState(info, [...AGGREGATE_LIMITS, ...poolKeys]);
  const result: Record<string, ProjectStateResource> = {
    cpu: raw['limits.cpu']!,
    disk: raw['limits.disk']!,
    memory: raw['limits.memory']!,
    processes: raw['limits.processes']!,
  };
  for (const key of poolKeys) if (raw[key]!.Limit > 0) result[`disk.${key.slice(POOL_LIMIT_PREFIX.length)}`] = raw[key]!;
  const all = totalInstanceCountLimit(info);
  result.instances = { Limit: all.limit, Usage: all.count };
  const containers = instanceCountLimit(info, 'container');
  result.containers = { Limit: containers.limit, Usage: containers.count };
  const vms = instanceCountLimit(info, 'virtual-machine');
  result['virtual-machines'] = { Limit: vms.limit, Usage: vms.count };
  const netLimit = info.config['limits.networks'];
  const created = (await db.networks.list(project)).filter((n) => n.status === 'Created').length;
  result.networks = { Limit: netLimit ? Number(netLimit) : -1, Usage: created };
  return result;
}
