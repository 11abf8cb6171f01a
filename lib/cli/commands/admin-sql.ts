/**
 * `incus admin sql [<remote>:]<local|global> <query>`: runs statements on
 * the server's database (POST /internal/sql) and prints, per statement, a
 * table of the rows a SELECT returned or "Rows affected: N"; with several
 * statements each result is headed "=> Query N:". A query of `-` is read
 * from standard input.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parseFormat, renderList } from '../format/render';
import { localName } from '../remote';

interface SqlResult {
  type: string;
  columns: string[] | null;
  rows: unknown[][] | null;
  rows_affected: number;
}

/** A cell as Go's `%v` prints it. */
const cell = (v: unknown): string => (v === null || v === undefined ? '<nil>' : String(v));

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Sends the query; prints each statement's result. */
export async function adminSql(ctx: CliContext, target: string, query: string, format: string): Promise<number> {
  const spec = parseFormat(format);
  const database = localName(target);
  const text = query === '-' ? await readStdin() : query;
  const res = await ctx.client().raw('POST', '/internal/sql', { database, query: text });
  const results = (res.response as unknown as { metadata: { Results: SqlResult[] | null } }).metadata.Results ?? [];
  results.forEach((r, i) => {
    if (results.length > 1) ctx.out(`=> Query ${i}:\n\n`);
    if (r.type === 'select') {
      const columns = r.columns ?? [];
      ctx.out(renderList(spec, columns, (r.rows ?? []).map((row) => row.map(cell)), r));
    } else {
      ctx.out(`Rows affected: ${r.rows_affected}\n`);
    }
    if (results.length > 1) ctx.out('\n');
  });
  return 0;
}

/** Adds `sql` under `admin`. */
export function registerAdminSql(admin: Command, ctx: CliContext): void {
  admin
    .command('sql')
    .description('Execute a SQL query against the local or global database')
    .argument('<database>', '[<remote>:]local|global')
    .argument('<query>', 'SQL query, "-" to read it from standard input')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action(async (database: string, query: string, flags: { format: string }) => {
      ctx.exitCode = await adminSql(ctx, database, query, flags.format);
    });
}
