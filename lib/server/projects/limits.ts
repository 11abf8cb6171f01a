/**
 * Project limits (Incus's internal/server/project/permissions.go): instance
 * counts (limits.instances, limits.containers, limits.virtual-machines) and
 * aggregate limits summed over the project's instances and custom volumes
 * (limits.cpu, limits.memory, limits.processes, limits.disk and
 * limits.disk.pool.NAME). Pure functions over a {@link ProjectInfo} whose
 * instances are already expanded; failures throw a {@link ProjectRuleError}
 * worded as Incus words them.
 */
import type { ConfigMap } from '../../api/instance';
import { parseSize } from '../instance/config/units';
import { rootDisk } from '../instance/expand';
import type { InstanceEntity, ProjectInfo } from './project-info';
import { ProjectRuleError } from './rule-error';

export const AGGREGATE_LIMITS = ['limits.cpu', 'limits.disk', 'limits.memory', 'limits.processes'] as const;
export const POOL_LIMIT_PREFIX = 'limits.disk.pool.';

/** A VM's state disk counts against limits.disk at this size when its root disk does not say (Incus's default). */
const DEFAULT_VM_STATE_SIZE = '500MiB';

const COUNT_KEYS: Record<string, string> = { container: 'limits.containers', 'virtual-machine': 'limits.virtual-machines' };

/** The limit a key is parsed as: limits.disk.pool.NAME is a limits.disk. */
const parserKey = (key: string): string => (key.startsWith(POOL_LIMIT_PREFIX) ? 'limits.disk' : key);

const atoi = (value: string): number => {
  if (!/^[+-]?\d+$/.test(value)) throw new ProjectRuleError(`strconv.Atoi: parsing "${value}": invalid syntax`);
  return Number(value);
};

const bytes = (value: string): number => {
  const n = parseSize(value);
  if (n === null) throw new ProjectRuleError(`Invalid value "${value}"`);
  return n;
};

/** The number an aggregate limit (or an instance's value for it) stands for; throws on a value Incus refuses. */
export function parseAggregate(key: string, value: string): number {
  switch (parserKey(key)) {
    case 'limits.memory':
      if (value.endsWith('%')) throw new ProjectRuleError("Value can't be a percentage");
      return bytes(value);
    case 'limits.processes':
      return atoi(value);
    case 'limits.cpu':
      if (value.includes(',') || value.includes('-')) throw new ProjectRuleError("CPUs can't be pinned if project limits are used");
      return atoi(value);
    case 'limits.disk':
      return bytes(value);
    default:
      throw new ProjectRuleError(`Unknown aggregate limit "${key}"`);
  }
}

/** Incus's GetByteSizeStringIEC(n, 1): `512.0MiB`. */
export function byteSizeIEC(n: number): string {
  if (n < 1024) return `${n}B`;
  let v = n;
  for (const unit of ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB']) {
    v /= 1024;
    if (v < 1024) return `${v.toFixed(1)}${unit}`;
  }
  return `${v.toFixed(1)}EB`;
}

/** How a total is printed in "is too low" messages. */
export function printAggregate(key: string, n: number): string {
  const k = parserKey(key);
  return k === 'limits.memory' || k === 'limits.disk' ? byteSizeIEC(n) : String(n);
}

/** The aggregate keys set in a project's config (pool disk limits included). */
export function aggregateKeysOf(config: ConfigMap): string[] {
  return Object.keys(config).filter((k) => (AGGREGATE_LIMITS as readonly string[]).includes(k) || k.startsWith(POOL_LIMIT_PREFIX));
}

const poolOf = (key: string): string => (key.startsWith(POOL_LIMIT_PREFIX) ? key.slice(POOL_LIMIT_PREFIX.length) : '');

/**
 * One expanded instance's values for `keys` (Incus's getInstanceLimits);
 * with `skipUnset` a missing or bad value counts as nothing, otherwise it
 * throws naming the instance and the key.
 */
export function instanceLimits(project: string, inst: InstanceEntity, keys: readonly string[], skipUnset: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of keys) {
    if (key === 'limits.disk' || key.startsWith(POOL_LIMIT_PREFIX)) {
      const root = rootDisk(inst.devices);
      if (!root) {
        throw new ProjectRuleError(`Failed getting root disk device for instance "${inst.name}" in project "${project}": No root device could be found`);
      }
      const pool = poolOf(key);
      if (pool !== '' && root.pool !== pool) continue;
      const value = root.config.size;
      if (!value) {
        if (skipUnset) continue;
        throw new ProjectRuleError(`Instance "${inst.name}" in project "${project}" has no "size" config set on the root device either directly or via a profile`);
      }
      let limit: number;
      try {
        limit = parseAggregate(key, value);
        if (inst.type === 'virtual-machine') limit += parseAggregate(key, root.config['size.state'] ?? DEFAULT_VM_STATE_SIZE);
      } catch {
        if (skipUnset) continue;
        throw new ProjectRuleError(`Failed parsing "${key}" for instance "${inst.name}" in project "${project}"`);
      }
      out[key] = limit;
      continue;
    }
    // Processes are a container limit only.
    if (key === 'limits.processes' && inst.type === 'virtual-machine') continue;
    const value = inst.config[key];
    if (!value) {
      if (skipUnset) continue;
      throw new ProjectRuleError(`Instance "${inst.name}" in project "${project}" has no "${key}" config, either directly or via a profile`);
    }
    try {
      out[key] = parseAggregate(key, value);
    } catch {
      if (skipUnset) continue;
      throw new ProjectRuleError(`Failed parsing "${key}" for instance "${inst.name}" in project "${project}"`);
    }
  }
  return out;
}

/** Sums of `keys` over the project's custom volumes (disk keys) and expanded instances (Incus's getTotalsAcrossProjectEntities). */
export function totalsOf(info: ProjectInfo, keys: readonly string[], skipUnset: boolean): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const key of keys) {
    totals[key] = 0;
    if (key !== 'limits.disk' && !key.startsWith(POOL_LIMIT_PREFIX)) continue;
    const pool = poolOf(key);
    for (const v of info.volumes) {
      if (pool !== '' && v.pool !== pool) continue;
      const size = v.config.size;
      if (size === undefined) {
        if (skipUnset) continue;
        throw new ProjectRuleError(`Custom volume "${v.name}" in project "${info.name}" has no "size" config set`);
      }
      const n = parseSize(size);
      if (n === null) throw new ProjectRuleError(`Parse "size" for custom volume "${v.name}" in project "${info.name}": Invalid value "${size}"`);
      totals[key] += n;
    }
  }
  for (const inst of info.instances) {
    const limits = instanceLimits(info.name, inst, keys, skipUnset);
    for (const key of keys) totals[key] += limits[key] ?? 0;
  }
  return totals;
}

/** Refuses a project whose totals exceed its aggregate limits (Incus's checkAggregateLimits). */
export function checkAggregateLimits(info: ProjectInfo, keys: readonly string[]): void {
  if (keys.length === 0) return;
  let totals: Record<string, number>;
  try {
    totals = totalsOf(info, keys, false);
  } catch (err) {
    throw new ProjectRuleError(`Failed getting usage of project entities: ${(err as Error).message}`);
  }
  for (const key of keys) {
    const limit = parseAggregate(key, info.config[key] ?? '');
    if (totals[key]! > limit) {
      throw new ProjectRuleError(`Reached maximum aggregate value "${info.config[key]}" for "${key}" in project "${info.name}"`);
    }
  }
}

/** Instances of one type and the limit on them (-1: none). */
export function instanceCountLimit(info: ProjectInfo, type: string): { count: number; limit: number } {
  const key = COUNT_KEYS[type];
  if (!key) throw new ProjectRuleError(`Unexpected instance type "${type}"`);
  const count = info.instances.filter((i) => i.type === type).length;
  const value = info.config[key];
  if (value === undefined) return { count, limit: -1 };
  const limit = /^\d+$/.test(value) ? Number(value) : NaN;
  if (Number.isNaN(limit)) throw new ProjectRuleError(`Unexpected "${key}" value: "${value}"`);
  return { count, limit };
}

/** All instances and limits.instances (-1: none). */
export function totalInstanceCountLimit(info: ProjectInfo): { count: number; limit: number } {
  const value = info.config['limits.instances'];
  return { count: info.instances.length, limit: value === undefined ? -1 : atoi(value) };
}

/** Refuses one more instance of `type` when a count limit is reached (Incus's checkInstanceCountLimit and checkTotalInstanceCountLimit). */
export function checkInstanceCounts(info: ProjectInfo, type: string): void {
  const byType = instanceCountLimit(info, type);
  if (byType.limit >= 0 && byType.count >= byType.limit) {
    throw new ProjectRuleError(`Reached maximum number of instances of type "${type}" in project "${info.name}"`);
  }
  const all = totalInstanceCountLimit(info);
  if (all.limit >= 0 && all.count >= all.limit) throw new ProjectRuleError(`Reached maximum number of instances in project "${info.name}"`);
}

/**
 * Refuses new limits below what the project already uses (Incus's
 * AllowProjectUpdate for limits.*): `info` has expanded instances,
 * `changed` the keys whose value changes.
 */
export function checkLimitsNotBelowUsage(info: ProjectInfo, config: ConfigMap, changed: readonly string[]): void {
  const aggregate: string[] = [];
  for (const key of changed) {
    const value = config[key];
    if (value === undefined || value === '') continue;
    if (key === 'limits.instances') {
      const count = info.instances.length;
      if (atoi(value) < count) {
        throw new ProjectRuleError(
          `Can't change limits.instances in project "${info.name}": "limits.instances" is too low: there currently are ${count} total instances in project "${info.name}"`,
        );
      }
    } else if (key === 'limits.containers' || key === 'limits.virtual-machines') {
      const type = key === 'limits.containers' ? 'container' : 'virtual-machine';
      const count = info.instances.filter((i) => i.type === type).length;
      if (atoi(value) < count) {
        throw new ProjectRuleError(
          `Can't change "${key}" in project "${info.name}": "${key}" is too low: there currently are ${count} instances of type ${type} in project "${info.name}"`,
        );
      }
    } else if ((AGGREGATE_LIMITS as readonly string[]).includes(key) || key.startsWith(POOL_LIMIT_PREFIX)) {
      aggregate.push(key);
    }
  }
  if (aggregate.length === 0) return;
  const totals = totalsOf(info, aggregate, false);
  for (const key of aggregate) {
    let limit: number;
    try {
      limit = parseAggregate(key, config[key]!);
    } catch (err) {
      throw new ProjectRuleError(`Invalid value "${config[key]}" for limit "${key}": ${(err as Error).message}`);
    }
    if (limit < totals[key]!) throw new ProjectRuleError(`"${key}" is too low: current total is "${printAggregate(key, totals[key]!)}"`);
  }
}
