/** `incus list` (alias `ls`). */
import type { Command } from 'commander';
import type { InstanceFull } from '../../api/instance';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { orderKeys } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { instanceFullShape } from '../format/shapes';
import { sortRowsNaturally } from '../format/sort';
import {
  DEFAULT_COLUMNS,
  DEFAULT_COLUMNS_ALL_PROJECTS,
  FAST_COLUMNS,
  isActive,
  parseColumns,
} from '../list-columns';
import { filtersNeedState, matchesAll } from '../list-filter';
import { localName } from '../remote';

/** `incus list` options. */
export interface ListFlags {
  columns: string;
  format: string;
  fast?: boolean;
  allProjects?: boolean;
}

/** Instances with state and snapshots, filling in what a server left out of recursion=2. */
async function fetchInstances(client: IncusClient, full: boolean, allProjects: boolean): Promise<InstanceFull[]> {
  if (!full) {
    const list = await client.getInstances(1, { allProjects });
    return list.map((i) => ({ ...i, backups: null, state: null, snapshots: null }));
  }
  const list = await client.getInstances(2, { allProjects });
  return Promise.all(
    list.map(async (i) => {
      let state = i.state ?? null;
      if (i.state === undefined && isActive(i)) {
        state = await client.getInstanceState(i.name, { project: i.project || undefined }).catch(() => null);
      }
      return { ...i, backups: i.backups ?? null, state, snapshots: i.snapshots ?? null };
    }),
  );
}

/** Lists instances; `args` are an optional `local:` and filters. */
export async function listInstances(ctx: CliContext, args: string[], flags: ListFlags): Promise<number> {
  const spec = parseFormat(flags.format);
  const filters = [...args];
  // `remote:` alone, or `remote:filter` (as Incus parses its first argument).
  if (filters[0]?.endsWith(':')) localName(filters.shift()!);
  else if (filters[0] !== undefined && /^[^=/:]+:/.test(filters[0]) && filters[0].split(':')[0] === ctx.targetRemote()) filters[0] = localName(filters[0]);
  if (ctx.globals.project && flags.allProjects) throw new Error("Can't specify --project with --all-projects");

  let columnSpec = flags.columns;
  if (flags.allProjects && columnSpec === DEFAULT_COLUMNS) columnSpec = DEFAULT_COLUMNS_ALL_PROJECTS;
  if (flags.fast) {
    if (columnSpec !== DEFAULT_COLUMNS && columnSpec !== DEFAULT_COLUMNS_ALL_PROJECTS) {
      throw new Error("Can't specify --fast with --columns");
    }
    columnSpec = columnSpec === DEFAULT_COLUMNS_ALL_PROJECTS ? `e${FAST_COLUMNS}` : FAST_COLUMNS;
  }
  // Whether data is needed does not depend on clustering; validate fully below.
  const { needsData } = parseColumns(columnSpec, true);

  const client = ctx.client();
  const [server, instances] = await Promise.all([
    client.getServer().catch(() => null),
    fetchInstances(client, needsData || filtersNeedState(filters), flags.allProjects ?? false),
  ]);
  const { columns } = parseColumns(columnSpec, server?.environment?.server_clustered ?? false);

  const shown = instances.filter((i) => matchesAll(i, filters));
  const opts = { raw: spec.raw };
  const rows = sortRowsNaturally(shown.map((i) => columns.map((c) => c.data(i, opts))));
  const raw = shown.map((i) => orderKeys(i, instanceFullShape));
  ctx.out(renderList(spec, columns.map((c) => c.name), rows, raw));
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('list')
    .alias('ls')
    .description('List instances')
    .argument('[filters...]', 'Optional [<remote>:] followed by filters')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact), use suffix ",noheader" to disable headers and ",header" to enable it if missing, e.g. csv,header', 'table')
    .option('--fast', 'Fast mode (same as --columns=nsacPt)')
    .option('--all-projects', 'Display instances from all projects')
    .action(async (filters: string[], flags: ListFlags) => {
      ctx.exitCode = await listInstances(ctx, filters, flags);
    });
}
