/**
 * Cases generated from the daemon's own route table: every path parameter
 * filled with each hostile segment, and for every route taking a body,
 * malformed JSON, wrong top-level types, a wrong type for every field of its
 * schema (or of its known shape from lib/api), hostile names in every
 * name-bearing field and traversal in every path-bearing one.
 */
import { HOSTILE_NAMES, HOSTILE_SEGMENTS, MALFORMED_JSON, WRONG_TOPLEVEL, traversalPaths, wrongTypes } from './hostile';
import { NAMES } from './fixture';
import type { Req } from './send';

/** A route as GET /internal/testing/routes lists it. */
export interface Route {
  method: string;
  url: string;
  params: string[];
  bodySchema: { properties?: Record<string, { type?: string | string[] }> } | null;
}

export interface Case {
  /** "METHOD url" of the route it exercises. */
  route: string;
  req: Req;
  /**
   * 'reject': must be a 4xx (an operation it starts must fail);
   * 'any-non-5xx': success is legitimate (contained in the instance), only 5xx fails.
   */
  expect: 'reject' | 'any-non-5xx';
}

/** Routes the walk never calls, with the reason. */
export const EXCLUDED: Record<string, string> = {
  'PUT /internal/shutdown': 'stops every instance and the daemon by design',
};

type FieldType = string | string[];
type Shape = Record<string, FieldType>;

/**
 * Request shapes (lib/api/*.ts) of routes that declare no body schema; the
 * field names say which are names, paths or maps.
 */
const SHAPES: Record<string, Shape> = {
  'POST /1.0/instances/:name/snapshots': { name: 'string', stateful: 'boolean', expires_at: 'string' },
  'PUT /1.0/instances/:name/snapshots/:snap': { expires_at: 'string' },
  'PATCH /1.0/instances/:name/snapshots/:snap': { expires_at: 'string' },
  'POST /1.0/instances/:name/snapshots/:snap': { name: 'string', migration: 'boolean', live: 'boolean' },
  'POST /1.0/instances/:name/backups': { name: 'string', expires_at: 'string', instance_only: 'boolean', optimized_storage: 'boolean', compression_algorithm: 'string' },
  'POST /1.0/instances/:name/backups/:backup': { name: 'string' },
  'POST /1.0/instances/:name/console': { width: 'integer', height: 'integer', type: 'string' },
  'POST /1.0/images': { filename: 'string', public: 'boolean', aliases: 'array', source: 'object', properties: 'object', compression_algorithm: 'string' },
  'PATCH /1.0/images/aliases/*': { description: 'string', target: 'string' },
  'POST /1.0/images/aliases/*': { name: 'string' },
  'POST /1.0/profiles/:name': { name: 'string' },
  'POST /internal/recover/validate': { pools: 'array' },
  'POST /internal/recover/import': { pools: 'array' },
  'POST /internal/testing/snapshots/tick': { time: 'string' },
};

/** A minimal body each creating route would accept, so that only the field under test is at fault. */
const BASE: Record<string, Record<string, unknown>> = {
  'POST /1.0/instances': { name: 'advnew', source: { type: 'none' } },
  'POST /1.0/profiles': { name: 'advnew' },
  'POST /1.0/storage-pools': { name: 'advpool', driver: 'dir' },
  'POST /1.0/storage-pools/:pool/volumes': { name: 'advvol', type: 'custom' },
  'POST /1.0/storage-pools/:pool/volumes/:type': { name: 'advvol' },
  'POST /1.0/images/aliases': { name: 'advalias', target: '@fp' },
  'POST /1.0/networks': { name: 'advnet', type: 'bridge' },
  'POST /1.0/instances/:name/exec': { command: ['true'] },
};

/** Relative paths that climb: never a valid disk source or mount path. */
const RELATIVE_CLIMBS = ['../../etc', '../../../../../../etc/shadow', 'a/../../..'];

/** Body fields that name an API object. */
const NAME_FIELDS = new Set(['name', 'pool', 'restore', 'target', 'profiles', 'source', 'aliases', 'pools', 'devices', 'config']);

function fill(route: Route, fp: string, override?: { index: number; value: string }): string {
  let i = -1;
  const segs = route.url.split('/').map((seg) => {
    if (!seg.startsWith(':') && seg !== '*') return seg;
    i++;
    if (override && override.index === i) return override.value;
    return encodeURIComponent(validParam(route.url, seg === '*' ? '*' : seg.slice(1), fp));
  });
  return segs.join('/');
}

/** The fixture object a parameter names in this route. */
function validParam(url: string, param: string, fp: string): string {
  if (url.startsWith('/1.0/instances/')) {
    if (param === 'name') return NAMES.instance;
    if (param === 'snap') return NAMES.snapshot;
    if (param === 'backup') return NAMES.backup;
    if (param === 'file') return 'lxc.log';
  }
  if (url.startsWith('/1.0/profiles/')) return NAMES.profile;
  if (url.startsWith('/1.0/storage-pools/')) {
    if (param === 'pool') return NAMES.pool;
    if (param === 'type') return 'custom';
    if (param === 'snap') return NAMES.volumeSnapshot;
    if (param === 'name') return url.startsWith('/1.0/storage-pools/:name') ? NAMES.pool : NAMES.volume;
  }
  if (param === 'fingerprint') return fp;
  if (param === '*') return NAMES.alias;
  if (param === 'file') return 'rootfs';
  if (param === 'id') return '00000000-0000-4000-8000-000000000000';
  if (url.startsWith('/1.0/networks/')) return NAMES.network;
  return 'advnone';
}

function shapeOf(route: Route): Shape {
  const key = `${route.method} ${route.url}`;
  if (route.bodySchema?.properties) {
    return Object.fromEntries(Object.entries(route.bodySchema.properties).map(([k, v]) => [k, v.type ?? 'string']));
  }
  return SHAPES[key] ?? {};
}

/** The hostile values for one name-bearing field, as whole field values. */
function hostileValuesFor(field: string, escapeRoot: string): unknown[] {
  const paths = traversalPaths(escapeRoot);
  switch (field) {
    case 'profiles':
      return HOSTILE_NAMES.map((h) => ['default', h]);
    case 'aliases':
      return HOSTILE_NAMES.map((h) => [{ name: h }]);
    case 'pools':
      return HOSTILE_NAMES.map((h) => [{ name: h }]);
    case 'devices':
      return [
        ...HOSTILE_NAMES.map((h) => ({ [h]: { type: 'none' } })),
        // Absolute host paths are a disk's legitimate sources: only relative climbs are hostile.
        ...RELATIVE_CLIMBS.map((p) => ({ advdisk: { type: 'disk', source: p, path: '/mnt' } })),
        ...RELATIVE_CLIMBS.map((p) => ({ advdisk: { type: 'disk', source: escapeRoot, path: p } })),
      ];
    case 'config':
      return HOSTILE_NAMES.map((h) => ({ [h]: 'x' }));
    case 'source':
      return [
        ...HOSTILE_NAMES.map((h) => ({ type: 'image', alias: h })),
        ...paths.map((p) => ({ type: 'image', fingerprint: p })),
        ...HOSTILE_NAMES.map((h) => ({ type: 'copy', source: h })),
        ...HOSTILE_NAMES.map((h) => ({ type: 'instance', name: h })),
        ...HOSTILE_NAMES.map((h) => ({ type: 'snapshot', name: `${NAMES.instance}/${h}` })),
      ];
    case 'restore':
      // An empty restore means "no restore" (a plain PUT).
      return [...HOSTILE_NAMES, ...paths].filter((v) => v !== '');
    default:
      return [...HOSTILE_NAMES, 'x'.repeat(70_000)];
  }
}

/**
 * Hostile-looking names that Incus accepts in this field: everything else
 * in HOSTILE_NAMES breaks its IsAPIName rule and must be refused.
 */
function legitNames(key: string, field: string): Set<string> {
  if (field !== 'name' && field !== 'target') return new Set();
  // An instance or snapshot created without a name gets one generated.
  if (key === 'POST /1.0/instances' || key.endsWith('/snapshots')) return new Set(['']);
  // Backups (instance_backup.go) refuse only "/" (and we, names that are no file name).
  if (key.startsWith('POST /1.0/instances/:name/backups')) return new Set(['', '...', '%2F', 'é', '\u202Eevil', '\u{1F600}', '-leading', 'a b']);
  // Image aliases may hold slashes.
  if (key.startsWith('POST /1.0/images/aliases')) return new Set(['a/b']);
  return new Set();
}

/** Every case for one route. */
export function casesFor(route: Route, fp: string, escapeRoot: string): Case[] {
  const key = `${route.method} ${route.url}`;
  const out: Case[] = [];
  const hasBody = route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH';
  const json = (v: unknown): string => JSON.stringify(v).replace(/"@fp"/g, JSON.stringify(fp));
  const add = (path: string, body: string | undefined, expect: Case['expect'] = 'reject', headers?: Record<string, string>): void => {
    out.push({ route: key, req: { method: route.method, path, body, headers }, expect });
  };
  const valid = fill(route, fp);

  // Every parameter in turn hostile, the others valid. A body of {} keeps the schema quiet.
  const lastIsParam = /\/(:[^/]+|\*)$/.test(route.url);
  route.params.forEach((_, index) => {
    for (const seg of HOSTILE_SEGMENTS) {
      // An empty last segment is the collection's own URL (trailing slash): that route has its own cases.
      if (seg === '' && lastIsParam && index === route.params.length - 1) continue;
      add(fill(route, fp, { index, value: seg }), hasBody ? '{}' : undefined);
    }
  });

  // Hostile query strings: the project on project-scoped routes, recursion everywhere it is read.
  const scoped = /^\/1\.0\/(instances|profiles|images|networks|operations|storage-pools\/[^/]+\/volumes)/.test(route.url);
  for (const q of ['project=..', 'project=%00', 'recursion=-1', 'recursion=abc', 'project=' + 'p'.repeat(2000)]) {
    if (route.method === 'DELETE' && route.params.length > 0 && !route.url.endsWith('/files')) continue;
    if (q.startsWith('project') && !scoped) continue;
    // recursion is read by GETs only; on a write the {} body would be a legitimate reset.
    if (q.startsWith('recursion') && route.method !== 'GET') continue;
    add(`${valid}?${q}`, hasBody ? '{}' : undefined, q.startsWith('recursion') ? 'any-non-5xx' : 'reject');
  }

  // Files: the path query is the path-bearing field.
  if (route.url.endsWith('/files')) {
    for (const p of traversalPaths(escapeRoot)) {
      // Climbing to /etc/shadow stays inside the instance (Incus resolves paths there): only reading it tells an escape.
      if (p.endsWith('/etc/shadow') && route.method !== 'GET') continue;
      const expect = route.method === 'GET' ? 'any-non-5xx' : 'reject';
      const headers = route.method === 'POST' ? { 'Content-Type': 'application/octet-stream', 'X-Incus-type': 'file' } : undefined;
      add(`${valid}?path=${encodeURIComponent(p)}`, route.method === 'POST' ? 'escaped' : undefined, expect, headers);
    }
  }

  if (!hasBody) return out;
  const base = BASE[key] ?? {};
  for (const m of MALFORMED_JSON) add(valid, m);
  for (const w of WRONG_TOPLEVEL) add(valid, w);
  const shape = shapeOf(route);
  for (const [field, type] of Object.entries(shape)) {
    for (const v of wrongTypes(type)) add(valid, json({ ...base, [field]: v }));
    if (!NAME_FIELDS.has(field)) continue;
    // PATCH has no restore (Incus ignores the field there).
    if (field === 'restore' && route.method !== 'PUT') continue;
    const legit = legitNames(key, field);
    // A rename to a legitimate name would only move the fixture away.
    const rename = route.method === 'POST' && lastIsParam && field === 'name';
    for (const v of hostileValuesFor(field, escapeRoot)) {
      const ok = typeof v === 'string' && legit.has(v);
      if (ok && rename) continue;
      add(valid, json({ ...base, [field]: v }), ok ? 'any-non-5xx' : 'reject');
    }
  }
  return out;
}
