/** `incus profile list`: columns, filters and formats as Incus has them. */
import type { Profile } from '../../api/profile';
import type { CliContext } from '../context';
import { profileShape } from '../format/config-shapes';
import { orderKeys } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { localName } from '../remote';
import { parseColumnLetters } from '../column-letters';

/** `profile list` options. */
export interface ProfileListFlags {
  columns: string;
  format: string;
  allProjects?: boolean;
}

/** Incus's default columns: name, description, used by (project first with --all-projects). */
export const DEFAULT_PROFILE_COLUMNS = 'ndu';
const DEFAULT_ALL_PROJECTS_COLUMNS = 'endu';

type ProfileColumn = [name: string, data: (p: Profile) => string];

const COLUMNS: Record<string, ProfileColumn> = {
  n: ['NAME', (p) => p.name],
  e: ['PROJECT', (p) => p.project],
  d: ['DESCRIPTION', (p) => p.description],
  u: ['USED BY', (p) => String((p.used_by ?? []).length)],
};

/** Parses a `profile list -c` value. */
export function parseProfileColumns(spec: string): ProfileColumn[] {
  return parseColumnLetters(spec, COLUMNS);
}

function fieldOf(p: Profile, key: string): string | undefined {
  if (key.startsWith('config.')) return p.config?.[key.slice('config.'.length)];
  if (key === 'name' || key === 'description' || key === 'project') return p[key];
  return undefined;
}

function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return pattern === value;
  }
}

/**
 * True when `p` passes every filter: `key=value` compares a field (name,
 * description, project, config.KEY) against `value` as a whole-value regular
 * expression; a bare word matches names starting with it.
 */
export function matchProfile(p: Profile, filters: readonly string[]): boolean {
  return filters.every((f) => {
    const eq = f.indexOf('=');
    if (eq < 0) return p.name.startsWith(f);
    const value = fieldOf(p, f.slice(0, eq));
    return value !== undefined && fullMatch(f.slice(eq + 1), value);
  });
}

/** Lists profiles in the chosen format. */
export async function listProfiles(ctx: CliContext, args: string[], flags: ProfileListFlags): Promise<number> {
  const spec = parseFormat(flags.format);
  if (flags.allProjects && ctx.globals.project !== undefined) throw new Error("Can't specify --project with --all-projects");
  const filters = [...args];
  if (filters[0]?.endsWith(':')) localName(filters.shift()!);
  const columns = parseProfileColumns(
    flags.allProjects && flags.columns === DEFAULT_PROFILE_COLUMNS ? DEFAULT_ALL_PROJECTS_COLUMNS : flags.columns,
  );
  const all = await ctx.client().getProfiles({ allProjects: flags.allProjects });
  const profiles = all.filter((p) => matchProfile(p, filters.flatMap((f) => f.split(','))));
  const rows = sortRowsNaturally(profiles.map((p) => columns.map(([, data]) => data(p))));
  ctx.out(renderList(spec, columns.map(([n]) => n), rows, profiles.map((p) => orderKeys(p, profileShape))));
  return 0;
}
