/** The writable parts of API objects, as Go's `Writable()` methods return them. */
import type { Instance, InstancePut } from '../api/instance';
import type { Profile, ProfilePut } from '../api/profile';

/** api.Instance.Writable(): what PUT /1.0/instances/{name} takes. */
export function instanceWritable(inst: Instance): InstancePut {
  const put: InstancePut = {
    architecture: inst.architecture ?? '',
    config: { ...(inst.config ?? {}) },
    devices: Object.fromEntries(Object.entries(inst.devices ?? {}).map(([k, v]) => [k, { ...v }])),
    ephemeral: inst.ephemeral ?? false,
    profiles: [...(inst.profiles ?? [])],
    stateful: inst.stateful ?? false,
    description: inst.description ?? '',
  };
  if (inst.restore) put.restore = inst.restore;
  return put;
}

/** api.Profile.Writable(): what PUT /1.0/profiles/{name} takes. */
export function profileWritable(p: Profile): ProfilePut {
  return {
    config: { ...(p.config ?? {}) },
    description: p.description ?? '',
    devices: Object.fromEntries(Object.entries(p.devices ?? {}).map(([k, v]) => [k, { ...v }])),
  };
}

function sameMap(a: Record<string, unknown>, b: Record<string, unknown>, same: (x: unknown, y: unknown) => boolean): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => k in b && same(a[k], b[k]));
}

/**
 * True when `a` and `b` hold the same values: strings and booleans equal,
 * lists equal in order, maps equal key by key; absent, empty strings and
 * empty maps or lists are the same (Go's omitempty and nil-vs-empty).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  const empty = (v: unknown) =>
    v === undefined || v === null || v === '' || (typeof v === 'object' && Object.keys(v).length === 0);
  if (empty(a) && empty(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    return sameMap(a as Record<string, unknown>, b as Record<string, unknown>, sameValue);
  }
  return a === b;
}
