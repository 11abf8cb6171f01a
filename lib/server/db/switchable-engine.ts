/**
 * The engine a daemon's Db is built on: one that can be replaced while the
 * daemon serves, so that enabling clustering moves a standalone host's
 * SQLite data into dqlite without a restart (Incus's `cluster enable`).
 * Calls pass straight through; a replacement waits until no call is in
 * flight (reads still pass meanwhile, so that a transaction in flight
 * reading on the engine is not waited for by the wait for it), holds new
 * ones back while the data moves, then lets them go to the new engine.
 */
import type { RunResult, Sql, SqlEngine, SqlValue } from './sql';

export class SwitchableEngine implements SqlEngine {
  private inFlight = 0;
  private idle: (() => void) | null = null;
  private switching: Promise<void> | null = null;
  /** A replacement waits for the calls in flight (they may still read: one may be a transaction reading on the engine). */
  private draining = false;

  constructor(private current: SqlEngine) {}

  /** The engine calls go to now. */
  get engine(): SqlEngine {
    return this.current;
  }

  private async call<T>(fn: (e: SqlEngine) => Promise<T>, read = false): Promise<T> {
    while (this.switching && !(read && this.draining)) await this.switching;
    this.inFlight++;
    try {
      return await fn(this.current);
    } finally {
      if (--this.inFlight === 0) this.idle?.();
    }
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.call((e) => e.all<T>(sql, params), true);
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.call((e) => e.get<T>(sql, params), true);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult> {
    return this.call((e) => e.run(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.call((e) => e.exec(sql));
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.call((e) => e.transaction(fn));
  }

  /**
   * Replaces the engine: waits for the calls in flight, then runs
   * `move(old)` (which returns the new engine) while new calls wait. The old
   * engine is closed once the new one serves; when move fails nothing changes.
   */
  async replace(move: (old: SqlEngine) => Promise<SqlEngine>): Promise<void> {
    while (this.switching) await this.switching;
    let done!: () => void;
    this.switching = new Promise<void>((r) => (done = r));
    try {
      this.draining = true;
      if (this.inFlight > 0) await new Promise<void>((r) => (this.idle = r));
      this.draining = false;
      this.idle = null;
      const old = this.current;
      this.current = await move(old);
      await old.close();
    } finally {
      this.draining = false;
      this.switching = null;
      done();
    }
  }

  async close(): Promise<void> {
    while (this.switching) await this.switching;
    await this.current.close();
  }
}
