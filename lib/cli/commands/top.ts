/**
 * `incus top`: CPU time, memory and disk per instance from /1.0/metrics,
 * refreshed every --refresh seconds (10 at least) on a terminal, where
 * `d` + ENTER changes the delay and `s` + ENTER the sort order, as Incus's
 * top does; printed once when stdout is not a terminal.
 */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import type { CliContext } from '../context';
import { parseColumnLetters } from '../column-letters';
import { parseFormat, renderList } from '../format/render';
import { byteSizeIEC } from '../format/units';
import { SORT_NAMES, sortTopRows, topRows, type TopRow, type TopSort } from './top-metrics';

const DEFAULT_COLUMNS = 'numD';
const DEFAULT_COLUMNS_ALL_PROJECTS = 'enumD';

type TopColumn = [name: string, data: (r: TopRow) => string];

const COLUMNS: Record<string, TopColumn> = {
  e: ['PROJECT', (r) => r.project],
  n: ['INSTANCE NAME', (r) => r.name],
  u: ['CPU TIME(s)', (r) => r.cpuSeconds.toFixed(2)],
  m: ['MEMORY', (r) => (r.memoryBytes > 0 ? byteSizeIEC(r.memoryBytes) : '')],
  D: ['DISK', (r) => (r.diskBytes > 0 ? byteSizeIEC(r.diskBytes) : '')],
};

interface TopFlags {
  allProjects?: boolean;
  columns?: string;
  format: string;
  refresh: string;
}

export function topTable(rows: TopRow[], columnsSpec: string, format: string, sort: TopSort): string {
  const columns = parseColumnLetters(columnsSpec.replace(/,/g, ''), COLUMNS);
  const sorted = sortTopRows(rows, sort);
  return renderList(parseFormat(format), columns.map(([n]) => n), sorted.map((r) => columns.map(([, d]) => d(r))), null);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('top')
    .description('Display resource usage info per instance')
    .argument('[remote]', '[<remote>:]')
    .option('--all-projects', 'Display instances from all projects')
    .option('-c, --columns <columns>', 'Columns')
    .option('-f, --format <format>', 'Format (table|compact)', 'table')
    .option('--refresh <seconds>', 'Configure the refresh delay in seconds', '10')
    .action(async (_remote: string | undefined, f: TopFlags) => {
      const format = f.format.split(',')[0]!;
      if (format !== 'table' && format !== 'compact') throw new Error(`Invalid format "${f.format}"`);
      let delay = Number(f.refresh);
      if (!Number.isFinite(delay) || delay < 10) throw new Error('The minimum refresh rate is 10s');
      const columns = f.columns ?? (f.allProjects ? DEFAULT_COLUMNS_ALL_PROJECTS : DEFAULT_COLUMNS);
      const { getMetrics } = require('../../client/metrics') as typeof import('../../client/metrics');
      const client = ctx.client();
      let sort: TopSort = 'a';
      const draw = async (): Promise<string> => topTable(topRows(await getMetrics(client, { allProjects: f.allProjects === true })), columns, f.format, sort);
      const tty = (ctx.io.out as { isTTY?: boolean }).isTTY === true && process.stdin.isTTY === true;
      if (!tty) {
        ctx.out(await draw());
        return;
      }
      let paused = false;
      const show = async (): Promise<void> => {
        const table = await draw();
        ctx.io.out.write(`\x1b[H\x1b[2J${table}`);
        ctx.io.out.write("Press 'd' + ENTER to change delay\nPress 's' + ENTER to change sorting method\nPress CTRL-C to exit\n\n");
        ctx.io.out.write(`Delay: ${delay}s\nSorting Method: ${SORT_NAMES[sort]}\n`);
      };
      await show();
      let timer = setInterval(() => void (paused ? undefined : show().catch(() => undefined)), delay * 1000);
      const rl = createInterface({ input: process.stdin });
      let asking: 'delay' | 'sort' | null = null;
      await new Promise<void>((resolve) => {
        rl.on('close', resolve);
        process.once('SIGINT', () => rl.close());
        rl.on('line', (input) => {
          if (asking === 'delay') {
            asking = null;
            const n = Number(input);
            if (!Number.isFinite(n) || n <= 0) ctx.io.out.write('Invalid input, please enter a positive number\n');
            else {
              delay = n;
              clearInterval(timer);
              timer = setInterval(() => void (paused ? undefined : show().catch(() => undefined)), delay * 1000);
              ctx.io.out.write(`Updated interval to ${delay}s\n`);
            }
            paused = false;
            void show();
          } else if (asking === 'sort') {
            asking = null;
            if (['a', 'c', 'm', 'd'].includes(input)) sort = input as TopSort;
            else ctx.io.out.write('Invalid sorting type provided\n');
            paused = false;
            void show();
          } else if (input === 'd') {
            paused = true;
            asking = 'delay';
            ctx.io.out.write('Enter new delay in seconds: ');
          } else if (input === 's') {
            paused = true;
            asking = 'sort';
            ctx.io.out.write("Enter a sorting type ('a' for alphabetical, 'c' for CPU, 'm' for memory, 'd' for disk): ");
          }
        });
      });
      clearInterval(timer);
    });
}
