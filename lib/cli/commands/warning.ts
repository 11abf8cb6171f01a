/**
 * `incus warning list|show|acknowledge|delete`, as Incus prints them: the
 * list hides acknowledged and resolved warnings unless `--all`, columns
 * `utSscpLl` (L only when clustered), sorted rows.
 */
import type { Command } from 'commander';
import type { Warning } from '../../api/warning';
import type { CliContext } from '../context';
import { parseColumnLetters } from '../column-letters';
import { formatDate } from '../format/date';
import { orderKeys, struct, type Shape } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';

type WarningsApi = typeof import('../../client/warnings');
const api = (): WarningsApi => require('../../client/warnings') as WarningsApi;

export const DEFAULT_WARNING_COLUMNS = 'utSscpLl';

type WarningColumn = [name: string, data: (w: Warning) => string];

const COLUMNS: Record<string, WarningColumn> = {
  c: ['COUNT', (w) => String(w.count)],
  f: ['FIRST SEEN', (w) => formatDate(w.first_seen_at)],
  l: ['LAST SEEN', (w) => formatDate(w.last_seen_at)],
  p: ['PROJECT', (w) => w.project],
  s: ['SEVERITY', (w) => w.severity.toUpperCase()],
  S: ['STATE', (w) => w.status.toUpperCase()],
  t: ['TYPE', (w) => w.type],
  u: ['UUID', (w) => w.uuid],
};

/** The columns of `-c`; `L` (location) exists only in a cluster, so the default's is dropped here. */
export function parseWarningColumns(spec: string): WarningColumn[] {
  if (spec === DEFAULT_WARNING_COLUMNS) spec = spec.replace('L', '');
  else if (spec.includes('L')) throw new Error("Can't specify column L when not clustered");
  return parseColumnLetters(spec, COLUMNS);
}

/** api.Warning in Go's field order (WarningPut inline first). */
const warningShape: Shape = struct([
  ['status', null],
  ['uuid', null],
  ['location', null],
  ['project', null],
  ['type', null],
  ['count', null],
  ['first_seen_at', null],
  ['last_seen_at', null],
  ['last_message', null],
  ['severity', null],
  ['entity_url', null],
]);

export function warningListText(all: readonly Warning[], flags: { columns: string; format: string; all?: boolean }): string {
  const shown = flags.all ? all : all.filter((w) => w.status !== 'acknowledged' && w.status !== 'resolved');
  const columns = parseWarningColumns(flags.columns);
  const rows = sortRowsNaturally(shown.map((w) => columns.map(([, data]) => data(w))));
  return renderList(parseFormat(flags.format), columns.map(([name]) => name), rows, shown);
}

export function register(program: Command, ctx: CliContext): void {
  const warning = program.command('warning').description('Manage warnings');

  warning
    .command('list')
    .alias('ls')
    .description('List warnings')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_WARNING_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .option('-a, --all', 'List all warnings')
    .action(async (_remote: string | undefined, flags: { columns: string; format: string; all?: boolean }) => {
      ctx.out(warningListText(await api().getWarnings(ctx.client()), flags));
    });

  warning
    .command('show')
    .description('Show warning')
    .argument('<uuid>', '[<remote>:]<warning-uuid>')
    .action(async (arg: string) => {
      const w = await api().getWarning(ctx.client(), localName(arg));
      ctx.out(renderYaml(orderKeys(w, warningShape)));
    });

  warning
    .command('acknowledge')
    .alias('ack')
    .description('Acknowledge warning')
    .argument('<uuid>', '[<remote>:]<warning-uuid>')
    .action(async (arg: string) => {
      await api().updateWarning(ctx.client(), localName(arg), { status: 'acknowledged' });
    });

  warning
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete warnings')
    .argument('[uuids...]', '[<remote>:]<warning-uuid>')
    .option('-a, --all', 'Delete all warnings')
    .action(async (args: string[], flags: { all?: boolean }) => {
      const client = ctx.client();
      let uuids: string[];
      if (flags.all) {
        if (args.some((a) => !a.endsWith(':'))) throw new Error('--all cannot be used together with other arguments');
        uuids = (await api().getWarnings(client)).map((w) => w.uuid);
      } else {
        if (args.length === 0) throw new Error('Missing required argument: warning UUID');
        uuids = args.map((a) => localName(a));
      }
      const errors: string[] = [];
      for (const uuid of uuids) {
        await api()
          .deleteWarning(client, uuid)
          .catch((err: Error) => errors.push(err.message));
      }
      if (errors.length > 0) throw new Error(errors.join('\n'));
    });
}
