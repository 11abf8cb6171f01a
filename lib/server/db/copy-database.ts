/**
 * Copies a whole database from one engine into an empty one, schema and
 * rows alike, in one transaction on the target: how a standalone host's
 * SQLite data becomes the cluster's dqlite database when clustering is
 * enabled. Tables first, then their rows, then indexes, triggers and views
 * (so triggers do not fire on copied rows), then the schema version.
 */
import type { Sql, SqlValue } from './sql';

interface SchemaRow {
  type: 'table' | 'index' | 'trigger' | 'view';
  name: string;
  sql: string | null;
}

/** Rows copied per INSERT (SQLite's default limit is 999 parameters per statement; rows here are narrow). */
const BATCH = 50;

const quoteId = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export async function copyDatabase(from: Sql, to: Sql): Promise<void> {
  const schema = await from.all<SchemaRow>("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid");
  const version = (await from.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0;
  const tables = schema.filter((s) => s.type === 'table');
  const rows = new Map<string, Record<string, SqlValue>[]>();
  for (const tbl of tables) rows.set(tbl.name, await from.all<Record<string, SqlValue>>(`SELECT * FROM ${quoteId(tbl.name)}`));
  await to.transaction(async (tx) => {
    // Rows go in before the constraints between tables can all hold.
    await tx.exec('PRAGMA defer_foreign_keys = ON');
    for (const tbl of tables) await tx.exec(tbl.sql!);
    for (const tbl of tables) await insertRows(tx, tbl.name, rows.get(tbl.name)!);
    for (const s of schema) if (s.type !== 'table') await tx.exec(s.sql!);
    await tx.exec(`PRAGMA user_version = ${Number(version)}`);
  });
}

async function insertRows(tx: Sql, table: string, rows: Record<string, SqlValue>[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const one = `(${columns.map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH);
    const sql = `INSERT INTO ${quoteId(table)} (${columns.map(quoteId).join(', ')}) VALUES ${batch.map(() => one).join(', ')}`;
    await tx.run(sql, batch.flatMap((r) => columns.map((c) => r[c] ?? null)));
  }
}
