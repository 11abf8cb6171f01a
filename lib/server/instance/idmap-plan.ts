/**
 * Which id map a container is to run with, from its expanded config:
 * security.privileged (none), security.idmap.isolated / .base / .size and
 * raw.idmap, with isolated ranges kept apart from those other isolated
 * containers hold (their volatile.idmap.base and map size), as Incus's
 * findIdmap places them. Planned when such a key changes (a bad map is
 * refused then) and again before each start.
 */
import type { InstanceRecord } from '../db/instances';
import { badRequest } from '../errors';
import { isTrue } from './config-keys';
import { type IdmapEntry, type TakenRange, allocateIdmap, entriesJson } from './idmap-alloc';
import type { InstanceManager } from './manager';

/** Keys whose change gives a container another map. */
const IDMAP_KEYS = ['security.privileged', 'security.idmap.isolated', 'security.idmap.base', 'security.idmap.size', 'raw.idmap'];

/** security.idmap.size as a number; undefined for the default ("" or "auto"). */
function idmapSize(cfg: Record<string, string>): number | undefined {
  const v = cfg['security.idmap.size'];
  return v && v !== 'auto' ? Number(v) : undefined;
}

/** The ranges the other isolated containers hold. */
async function takenRanges(m: InstanceManager, selfId: number): Promise<TakenRange[]> {
  const out: TakenRange[] = [];
  for (const other of await m.deps.db.instances.listLocal(null)) {
    if (other.id === selfId || other.type !== 'container') continue;
    const base = Number(other.config['volatile.idmap.base']);
    // The shared range's base: a container that ran without a map of its own.
    if (!base || base === m.deps.idmap.uid.hostBase) continue;
    const cfg = (await m.expand(other)).expanded_config;
    if (isTrue(cfg['security.privileged']) || !isTrue(cfg['security.idmap.isolated'])) continue;
    out.push({ base, size: idmapSize(cfg) ?? 65536 });
  }
  return out;
}

/** The map `rec` is to run with under expanded config `cfg`; null when it runs without one (privileged, a VM). */
export async function planIdmap(m: InstanceManager, rec: Pick<InstanceRecord, 'id' | 'type'>, cfg: Record<string, string>): Promise<{ entries: IdmapEntry[]; base: number } | null> {
  if (rec.type !== 'container' || isTrue(cfg['security.privileged'])) return null;
  const isolated = isTrue(cfg['security.idmap.isolated']);
  const base = cfg['security.idmap.base'] ? Number(cfg['security.idmap.base']) : undefined;
  const size = idmapSize(cfg);
  for (const [k, v] of [['security.idmap.base', base], ['security.idmap.size', size]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw badRequest(`Invalid value for "${k}"`);
  }
  const taken = isolated && base === undefined ? await takenRanges(m, rec.id) : [];
  return allocateIdmap(m.deps.idmap, { isolated, base, size, raw: cfg['raw.idmap'] }, taken);
}

/**
 * An update that changes the keys shaping the id map is checked at once (a
 * map that cannot be made is a 400) and the new map recorded in `next`'s
 * volatile.idmap.next, as Incus does; the next start runs with it.
 */
export async function planNextIdmap(m: InstanceManager, before: Record<string, string>, next: InstanceRecord, after: Record<string, string>): Promise<void> {
  if (IDMAP_KEYS.every((k) => before[k] === after[k])) return;
  let plan;
  try {
    plan = await planIdmap(m, next, after);
  } catch (err) {
    throw badRequest(`Failed to get ID map: ${(err as Error).message}`);
  }
  next.config['volatile.idmap.next'] = plan ? entriesJson(plan.entries) : '[]';
}
