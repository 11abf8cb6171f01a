/**
 * `incus admin sql global QUERY` (POST /internal/sql): the statements of a
 * query, split at `;` as Incus splits them, each run in its own transaction.
 * A statement that starts with SELECT returns its rows, any other reports
 * the rows it changed (Incus's SQLBatch).
 */
import type { SqlEngine } from './sql';

/** One statement's result, with Incus's JSON field names (every field always there). */
export interface SqlResult {
  type: 'select' | 'exec';
  columns: string[] | null;
  rows: unknown[][] | null;
  rows_affected: number;
}

const changed = (n: number): SqlResult => ({ type: 'exec', columns: null, rows: null, rows_affected: n });

/** Runs each statement of `query`; the first failing one throws (earlier ones stay committed, as in Incus). */
export async function runAdminSql(engine: SqlEngine, query: string): Promise<SqlResult[]> {
  const out: SqlResult[] = [];
  for (const raw of query.split(';')) {
    const statement = raw.replace(/^ +/, '');
    if (statement.trim() === '') continue;
    if (statement.toUpperCase().startsWith('SELECT')) {
      const rows = await engine.all<Record<string, unknown>>(statement).catch((err: Error) => {
        throw new Error(`Failed to execute query: ${err.message}`);
      });
      // Column names from the rows (the seam returns objects): none when no row came back.
      const columns = rows.length > 0 ? Object.keys(rows[0]!) : [];
      out.push({ type: 'select', columns, rows: rows.map((r) => columns.map((c) => r[c] ?? null)), rows_affected: 0 });
    } else {
      const r = await engine.transaction((tx) => tx.run(statement)).catch((err: Error) => {
        throw new Error(`Failed to exec query: ${err.message}`);
      });
      out.push(changed(r.changes));
    }
  }
  return out;
}
