/**
 * The standalone engine: one better-sqlite3 connection in WAL mode behind the
 * async seam. Statements are prepared once per SQL text and cached, so a
 * query costs what it cost before the seam plus one resolved promise. The
 * daemon's only connection; activation.ts alone also opens the file, read-only,
 * for `incusd activateifneeded` before any daemon runs.
 */
import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { RunResult, SqlEngine, SqlValue } from './sql';
import { GatedSql, type RawSql } from './tx-gate';

class SqliteRaw implements RawSql {
  private readonly cache = new Map<string, BetterSqlite3.Statement>();

  constructor(readonly db: BetterSqlite3.Database) {}

  all<T>(sql: string, params: readonly SqlValue[]): T[] {
    return this.statement(sql).all(...params) as T[];
  }

  get<T>(sql: string, params: readonly SqlValue[]): T | undefined {
    return this.statement(sql).get(...params) as T | undefined;
  }

  run(sql: string, params: readonly SqlValue[]): RunResult {
    const r = this.statement(sql).run(...params);
    return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
  }

  exec(sql: string): void {
    this.db.exec(sql);
  }

  private statement(sql: string): BetterSqlite3.Statement {
    let st = this.cache.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.cache.set(sql, st);
    }
    return st;
  }
}

/** The engine with the connection it wraps (tests inspect pragmas through it). */
export class SqliteEngine extends GatedSql implements SqlEngine {
  private constructor(private readonly raw0: SqliteRaw, gateTimeoutMs?: number) {
    super(raw0, 'BEGIN IMMEDIATE', gateTimeoutMs);
  }

  /** Opens (creating if needed) the database file in WAL mode; `gateTimeoutMs` for tests of the gate. */
  static open(path: string, gateTimeoutMs?: number): SqliteEngine {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const db = new BetterSqlite3(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    return new SqliteEngine(new SqliteRaw(db), gateTimeoutMs);
  }

  /** A pragma's value, read synchronously (tests and diagnostics). */
  pragma(name: string): unknown {
    return this.raw0.db.pragma(name, { simple: true });
  }

  async close(): Promise<void> {
    this.raw0.db.close();
  }
}
