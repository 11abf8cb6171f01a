/**
 * `incus project list` and `incus project info`: columns, server-side
 * filters and the resource table, as Incus prints them.
 */
import type { Project, ProjectState } from '../../api/project';
import { map, orderKeys, struct, type Shape } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { byteSizeIEC } from '../format/units';
import { parseColumnLetters } from '../column-letters';

/** `project list` / `project info` options. */
export interface ProjectListFlags {
  columns: string;
  format: string;
}

/** Incus's default columns: name, the seven features, description, used by. */
export const DEFAULT_PROJECT_COLUMNS = 'nipvbwzdu';

/** api.Project in Go's field order. */
export const projectShape: Shape = struct([
  ['config', map()],
  ['description', null],
  ['name', null],
  ['used_by', null],
]);

/** api.ProjectState in Go's field order. */
const projectStateShape: Shape = struct([['resources', map(struct([['Limit', null], ['Usage', null]]))]]);

type ProjectColumn = [name: string, data: (p: Project) => string];

const isTrue = (v: string | undefined): boolean => ['1', 'on', 'yes', 'true'].includes((v ?? '').toLowerCase());
const feature = (key: string) => (p: Project) => (isTrue(p.config?.[`features.${key}`]) ? 'YES' : 'NO');

const COLUMNS: Record<string, ProjectColumn> = {
  n: ['NAME', (p) => p.name],
  i: ['IMAGES', feature('images')],
  p: ['PROFILES', feature('profiles')],
  v: ['STORAGE VOLUMES', feature('storage.volumes')],
  b: ['STORAGE BUCKETS', feature('storage.buckets')],
  w: ['NETWORKS', feature('networks')],
  z: ['NETWORK ZONES', feature('networks.zones')],
  d: ['DESCRIPTION', (p) => p.description],
  u: ['USED BY', (p) => String((p.used_by ?? []).length)],
};

/** Parses a `project list -c` value (Incus's messages on error). */
export function parseProjectColumns(spec: string): ProjectColumn[] {
  return parseColumnLetters(spec, COLUMNS);
}

const PROJECT_FIELDS = new Set(['name', 'description', 'config', 'used_by']);

/**
 * Turns `project list` filters into server filter expressions as Incus
 * does: a bare word matches the name exactly or as a prefix; `key=value`
 * on a field that is not the project's own means `config.key=value`.
 */
export function projectServerFilters(filters: readonly string[]): string[] {
  return filters.map((filter) => {
    const eq = filter.indexOf('=');
    if (eq < 0) {
      const exact = filter.includes('^') || filter.includes('$') ? filter : `^${filter}$`;
      return `name=(${exact}|^${filter}.*)`;
    }
    const key = filter.slice(0, eq);
    return PROJECT_FIELDS.has(key.split('.')[0]!) ? filter : `config.${filter}`;
  });
}

/** A filter value as Incus's server matches it: a case-insensitive regular expression, anchored unless it has `^` or `$`. */
function valueMatches(pattern: string, value: string): boolean {
  const anchored = pattern.includes('^') || pattern.includes('$') ? pattern : `^${pattern}$`;
  try {
    return new RegExp(anchored, 'i').test(value);
  } catch {
    return pattern === value;
  }
}

/**
 * True when `p` passes every expression of {@link projectServerFilters}
 * (`name`, `description` or `config.KEY` against a pattern). Applied here
 * rather than sent as `?filter=`, so that patterns work whatever the
 * server's filter supports.
 */
export function matchProject(p: Project, expressions: readonly string[]): boolean {
  return expressions.every((f) => {
    const eq = f.indexOf('=');
    const key = f.slice(0, eq);
    const value = key.startsWith('config.') ? p.config?.[key.slice('config.'.length)] : key === 'name' || key === 'description' ? p[key] : undefined;
    return value !== undefined && valueMatches(f.slice(eq + 1), value);
  });
}

/**
 * The `project list` output: `current` is the project the remote uses, its
 * name shown as `NAME (current)` in table and csv formats.
 */
export function projectListText(projects: readonly Project[], current: string, flags: ProjectListFlags): string {
  const spec = parseFormat(flags.format);
  const columns = parseProjectColumns(flags.columns);
  const rows = projects.map((p) =>
    columns.map(([name, data]) => (name === 'NAME' && p.name === current ? `${p.name} (current)` : data(p))),
  );
  const raw = projects.map((p) => orderKeys(p, projectShape));
  return renderList(spec, columns.map(([n]) => n), sortRowsNaturally(rows), raw);
}

const BYTE_RESOURCES = new Set(['disk', 'memory']);

/**
 * The `project info` table: one row per resource (`LIMITS.X` keys shown as
 * `X (SUB)`), its limit (`UNLIMITED` for -1) and its usage, bytes in IEC
 * units for disk and memory.
 */
export function projectInfoText(state: ProjectState, format: string): string {
  const spec = parseFormat(format);
  const rows = Object.entries(state.resources ?? {}).map(([key, r]) => {
    const bytes = BYTE_RESOURCES.has(key.split('.')[0]!);
    const show = (n: number): string => (bytes ? byteSizeIEC(n) : String(n));
    const upper = key.toUpperCase();
    const dot = upper.indexOf('.');
    const name = dot < 0 ? upper : `${upper.slice(0, dot)} (${upper.slice(dot + 1)})`;
    return [name, r.Limit >= 0 ? show(r.Limit) : 'UNLIMITED', show(r.Usage)];
  });
  return renderList(spec, ['RESOURCE', 'LIMIT', 'USAGE'], sortRowsNaturally(rows), orderKeys(state, projectStateShape));
}
