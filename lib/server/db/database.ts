/**
 * The daemon's SQLite database: opened in WAL mode, migrated to the latest
 * schema on open. The only module that imports better-sqlite3; the query
 * modules beside it receive the handle.
 */
import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations';

export type Sqlite = BetterSqlite3.Database;

export interface Database {
  readonly sql: Sqlite;
  /** Runs fn in one transaction (BEGIN IMMEDIATE); rolls back when it throws. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

/** Opens (creating if needed) the database file and applies pending migrations. */
export function openDatabase(path: string): Database {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const sql = new BetterSqlite3(path);
  sql.pragma('journal_mode = WAL');
  sql.pragma('synchronous = NORMAL');
  sql.pragma('foreign_keys = ON');
  sql.pragma('busy_timeout = 5000');
  migrate(sql);
  return {
    sql,
    transaction: <T>(fn: () => T): T => sql.transaction(fn).immediate(),
    close: () => sql.close(),
  };
}

function migrate(sql: Sqlite): void {
  const current = sql.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < migrations.length; v++) {
    const step = migrations[v];
    sql.transaction(() => {
      step(sql);
      sql.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

/** Parses a JSON column holding a string map, tolerating NULL. */
export function jsonMap<T = Record<string, string>>(text: string | null): T {
  return (text ? JSON.parse(text) : {}) as T;
}
