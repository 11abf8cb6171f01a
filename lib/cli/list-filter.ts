/**
 * `incus list` filters, applied on the client so they work whether or not
 * the server implements `?filter=`:
 * - `word`: instance names matching the regex `^word$` or starting with `word`;
 * - `field=value`: an Instance field (`type`, `status`/`state`, `architecture`,
 *   `location`, ...), case-insensitive, value as an anchored regex;
 * - `ipv4=`/`ipv6=`: an address or CIDR (needs state), comma for "any of";
 * - `key=value`: a config key (`config` first, then `expanded_config`), with
 *   abbreviated namespaces (`u.blah` for `user.blah`).
 */
import { BlockList, isIP } from 'node:net';
import type { Instance, InstanceFull } from '../api/instance';
import type { InstanceState } from '../api/instance-state';

const INSTANCE_FIELDS = new Set([
  'architecture',
  'config',
  'devices',
  'ephemeral',
  'profiles',
  'stateful',
  'description',
  'created_at',
  'expanded_config',
  'expanded_devices',
  'name',
  'status',
  'status_code',
  'last_used_at',
  'location',
  'type',
  'project',
]);

/** Filters that need the instance state (so `list` fetches it). */
export function filtersNeedState(filters: readonly string[]): boolean {
  return filters.some((f) => /^ipv[46]=/i.test(f));
}

function compile(pattern: string, flags = ''): RegExp | null {
  try {
    return new RegExp(pattern, flags);
  } catch {
    return null;
  }
}

/** `value` as Incus matches it: a regex anchored at both ends unless it anchors itself. */
function valueMatches(value: string, actual: string, caseInsensitive: boolean): boolean {
  const anchored = value.includes('^') || value.includes('$') ? value : `^(?:${value})$`;
  const re = compile(anchored, caseInsensitive ? 'i' : '');
  if (re) return re.test(actual);
  return caseInsensitive ? value.toLowerCase() === actual.toLowerCase() : value === actual;
}

function nameMatches(filter: string, name: string): boolean {
  const anchored = filter.includes('^') || filter.includes('$') ? filter : `^${filter}$`;
  const re = compile(`(${anchored}|^${filter}.*)`);
  return re ? re.test(name) : name.startsWith(filter);
}

/** Each dot-separated part of `short` is a prefix of the same part of `key`. */
export function dotPrefixMatch(short: string, key: string): boolean {
  const s = short.split('.');
  const k = key.split('.');
  return s.length === k.length && s.every((part, i) => k[i]!.startsWith(part));
}

function netMatches(state: InstanceState | null | undefined, query: string, family: 'inet' | 'inet6'): boolean {
  if (!state?.network) return false;
  let subnet: BlockList | null = null;
  const slash = query.indexOf('/');
  if (slash > 0) {
    const base = query.slice(0, slash);
    const bits = Number(query.slice(slash + 1));
    const v = isIP(base);
    if (v !== 0 && Number.isInteger(bits)) {
      subnet = new BlockList();
      try {
        subnet.addSubnet(base, bits, v === 4 ? 'ipv4' : 'ipv6');
      } catch {
        subnet = null;
      }
    }
  }
  for (const net of Object.values(state.network)) {
    for (const a of net.addresses ?? []) {
      if (a.family !== family) continue;
      if (a.address === query) return true;
      const v = isIP(a.address);
      if (subnet && v !== 0 && subnet.check(a.address, v === 4 ? 'ipv4' : 'ipv6')) return true;
    }
  }
  return false;
}

function configMatches(inst: Instance, key: string, value: string): boolean {
  const exact = inst.config?.[key] ?? inst.expanded_config?.[key];
  if (exact !== undefined) return valueMatches(value, exact, false);
  for (const [k, v] of Object.entries(inst.expanded_config ?? {})) {
    if (dotPrefixMatch(key, k) && valueMatches(value, v, false)) return true;
  }
  return false;
}

function fieldMatches(inst: Instance, key: string, value: string): boolean {
  const [first, ...rest] = key.split('.');
  let actual: unknown = (inst as unknown as Record<string, unknown>)[first!];
  for (const part of rest) actual = actual && typeof actual === 'object' ? (actual as Record<string, unknown>)[part] : undefined;
  if (actual === undefined || actual === null) return false;
  if (Array.isArray(actual)) return actual.some((a) => valueMatches(value, String(a), true));
  return valueMatches(value, String(actual), true);
}

/** Does `inst` pass `filter`? */
export function matchesFilter(inst: InstanceFull, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return nameMatches(filter, inst.name);
  let key = filter.slice(0, eq);
  const value = filter.slice(eq + 1);
  const lower = key.toLowerCase();
  if (lower === 'ipv4' || lower === 'ipv6') {
    const family = lower === 'ipv4' ? 'inet' : 'inet6';
    return value.split(',').some((v) => netMatches(inst.state, v, family));
  }
  if (key === 'state') key = 'status';
  if (INSTANCE_FIELDS.has(key.split('.')[0]!)) {
    if (key.startsWith('config.') || key.startsWith('expanded_config.')) {
      return configMatches(inst, key.slice(key.indexOf('.') + 1), value);
    }
    return fieldMatches(inst, key, value);
  }
  return configMatches(inst, key, value);
}

/** Does `inst` pass every filter? */
export function matchesAll(inst: InstanceFull, filters: readonly string[]): boolean {
  return filters.every((f) => matchesFilter(inst, f));
}
