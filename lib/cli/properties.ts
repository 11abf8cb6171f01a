/**
 * `--property` (`-p`) on config/profile get, set and unset: the writable
 * struct's own fields (description, ephemeral, ...) read and written by
 * their JSON names, matched without regard to case as Incus does.
 */
import { goRfc3339Nano, parseRfc3339 } from '../api/go-time';
import { goTimeString } from './format/go-text';
import type { StructSpec } from './yaml-decode';

/** Go's zero time.Time, as the wire carries it. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** A value printed as Go's `%v` prints it (`[a b]`, `map[k:v]`). */
export function goValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${goValue(o[k])}`)
      .join(' ')}]`;
  }
  if (v === null || v === undefined) return '<nil>';
  return String(v);
}

function fieldName(spec: StructSpec, key: string): string | undefined {
  return Object.keys(spec.fields).find((f) => f.toLowerCase() === key.toLowerCase());
}

/**
 * The property `key` of `obj`, formatted with {@link goValue}.
 * @throws Error `The property with tag "x" does not exist`.
 */
export function getProperty(obj: object, spec: StructSpec, key: string): string {
  const f = fieldName(spec, key);
  if (!f) throw new Error(`The property with tag ${JSON.stringify(key)} does not exist`);
  const v = (obj as Record<string, unknown>)[f];
  // A time.Time prints with `%v` as its String(): `2006-01-02 15:04:05 -0700 MST`.
  if (spec.fields[f] === 'time') return goTimeString(typeof v === 'string' ? v : ZERO_TIME);
  return goValue(v);
}

/** Go's time.Parse(time.RFC3339, s) as the CLI's property decoder runs it. */
function parseTime(s: string): string {
  if (!parseRfc3339(s) || Number.isNaN(Date.parse(s))) {
    throw new Error(`parsing time ${JSON.stringify(s)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(s)} as "2006"`);
  }
  return goRfc3339Nano(s);
}

function parseBool(s: string): boolean {
  const v = s.toLowerCase();
  if (['1', 't', 'true'].includes(v)) return true;
  if (['0', 'f', 'false'].includes(v)) return false;
  throw new Error(`Invalid boolean value: ${v}`);
}

/**
 * Sets string, boolean and time (RFC 3339) properties of `obj` from `values`.
 * @throws Error `Error setting properties: ...` for an unknown property, a
 *   bad boolean, or a property that is not a scalar.
 */
export function setProperties(obj: object, spec: StructSpec, values: Record<string, string>): void {
  const target = obj as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    try {
      const f = fieldName(spec, key);
      if (!f) throw new Error(`The property with tag ${JSON.stringify(key)} does not exist`);
      const kind = spec.fields[f];
      if (kind === 'string') target[f] = value;
      else if (kind === 'bool') target[f] = parseBool(value);
      else if (kind === 'time') target[f] = parseTime(value);
      else throw new Error(`'${f}' cannot be set from a string`);
    } catch (err) {
      throw new Error(`Error setting properties: ${(err as Error).message}`);
    }
  }
}

/**
 * Resets the properties `keys` of `obj` to their zero value (maps and lists
 * are left alone, as in Incus).
 * @throws Error `<prefix>: ...` for an unknown property (Incus words it
 *   "Error unsetting property" for storage volumes).
 */
export function unsetProperties(obj: object, spec: StructSpec, keys: readonly string[], prefix = 'Error unsetting properties'): void {
  const target = obj as Record<string, unknown>;
  for (const key of keys) {
    const f = fieldName(spec, key);
    if (!f) throw new Error(`${prefix}: The property with tag ${JSON.stringify(key)} does not exist`);
    const kind = spec.fields[f];
    if (kind === 'string') target[f] = '';
    else if (kind === 'bool') target[f] = false;
    else if (kind === 'time') target[f] = ZERO_TIME;
  }
}
