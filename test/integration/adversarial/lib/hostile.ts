/**
 * Hostile inputs the adversarial suite feeds every route: names Incus's
 * IsAPIName refuses (so a create or rename carrying one must fail), path
 * segments that try to climb out of a directory, and wrong JSON types.
 */

/** Names no API object may take (Incus: 1-64 chars, starts and ends alphanumeric, no space, no slash). */
export const HOSTILE_NAMES: readonly string[] = [
  '.',
  '..',
  '...',
  '',
  'a'.repeat(1000),
  'a/b',
  '%2F',
  'a\u0000b',
  'é',
  '\u202Eevil',
  '\u{1F600}',
  '-leading',
  'a b',
  '../../etc',
];

/** The same names as raw URL path segments (what a client could put in a URL). */
export const HOSTILE_SEGMENTS: readonly string[] = [
  '.',
  '..',
  '...',
  '',
  'a'.repeat(1000),
  'a/b',
  '%2F',
  '%00',
  'a%00b',
  '%C3%A9',
  '%E2%80%AEevil',
  '%F0%9F%98%80',
  '-leading',
  'a%20b',
  '..%2F..%2Fetc',
  '../../etc',
];

/** Paths that try to leave the instance or the daemon's directories. */
export function traversalPaths(escapeRoot: string): string[] {
  return ['../../etc', '../../../../../../etc/shadow', `/../../../../../..${escapeRoot}/escaped`, '/', '', 'a\u0000b', '/etc/../../..', `${escapeRoot}/escaped`];
}

/** JSON values of the wrong type for a field whose schema type is `type`. */
export function wrongTypes(type: string | string[] | undefined): unknown[] {
  const types = new Set(Array.isArray(type) ? type : [type ?? 'string']);
  const all: [string, unknown][] = [
    ['string', 'str'],
    ['number', 42],
    ['integer', 7],
    ['boolean', true],
    ['array', ['x']],
    ['object', { x: 'y' }],
    ['null', null],
  ];
  return all
    .filter(([t]) => !types.has(t) && !(t === 'integer' && types.has('number')) && !(t === 'number' && types.has('integer')))
    // null is "absent" for most Go fields: only send it where the schema rules it out and the route is not a PUT-like reset.
    .filter(([t]) => t !== 'null')
    .map(([, v]) => v);
}

/** Bodies that are not JSON at all. */
export const MALFORMED_JSON: readonly string[] = ['{', '{"name":', 'nul', '{"a":1}}', '\u0000', '{"a":"\\ud800"'];

/** Top-level JSON values where an object is expected. */
export const WRONG_TOPLEVEL: readonly string[] = ['[]', '42', '"str"', 'true', '[{"name":"x"}]'];
