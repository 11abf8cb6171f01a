/**
 * One write transaction at a time per engine, whatever the backend. Writes
 * made on the engine itself wait while a transaction is open (so a rollback
 * can never take an unrelated write with it); reads never wait. Code inside
 * a transaction writes through the handle it was given: a write on the
 * engine from inside would wait for itself, so a wait that long is an error.
 */
import type { RunResult, Sql, SqlValue } from './sql';

/** What a backend provides: raw statements on its write connection. */
export interface RawSql {
  all<T>(sql: string, params: readonly SqlValue[]): Promise<T[]> | T[];
  get<T>(sql: string, params: readonly SqlValue[]): Promise<T | undefined> | T | undefined;
  run(sql: string, params: readonly SqlValue[]): Promise<RunResult> | RunResult;
  exec(sql: string): Promise<void> | void;
  /**
   * A backend whose transactions must be its own (dqlite: one held
   * connection, lost on failover) runs fn inside one; without it the gate
   * issues BEGIN/COMMIT/ROLLBACK itself.
   */
  transaction?<T>(fn: (raw: RawSql) => Promise<T>): Promise<T>;
}

const NO_PARAMS: readonly SqlValue[] = [];

/** How long a write may wait for an open transaction before it is called a self-deadlock. */
export const GATE_TIMEOUT_MS = 60_000;

/** The engine-level Sql: writes gated by the open transaction. */
export class GatedSql implements Sql {
  private open = false;
  private readonly writers: (() => void)[] = [];
  private readonly transactions: (() => void)[] = [];

  constructor(
    private readonly raw: RawSql,
    private readonly begin = 'BEGIN IMMEDIATE',
    private readonly gateTimeoutMs = GATE_TIMEOUT_MS,
  ) {}

  async all<T>(sql: string, params: readonly SqlValue[] = NO_PARAMS): Promise<T[]> {
    return this.raw.all<T>(sql, params);
  }

  async get<T>(sql: string, params: readonly SqlValue[] = NO_PARAMS): Promise<T | undefined> {
    return this.raw.get<T>(sql, params);
  }

  // The check and the statement share one continuation, so a transaction
  // woken in the same tick cannot begin in between.
  async run(sql: string, params: readonly SqlValue[] = NO_PARAMS): Promise<RunResult> {
    while (this.open) await this.park(this.writers, sql);
    return this.raw.run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    while (this.open) await this.park(this.writers, sql);
    return this.raw.exec(sql);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    while (this.open) await this.park(this.transactions, 'BEGIN');
    this.open = true;
    const inside = async (raw: RawSql): Promise<T> => {
      const tx = new TxSql(raw);
      try {
        return await fn(tx);
      } finally {
        tx.closed = true;
      }
    };
    try {
      if (this.raw.transaction) return await this.raw.transaction(inside);
      await this.raw.exec(this.begin);
      let out: T;
      try {
        out = await inside(this.raw);
      } catch (err) {
        await Promise.resolve()
          .then(() => this.raw.exec('ROLLBACK'))
          .catch(() => undefined);
        throw err;
      }
      await this.raw.exec('COMMIT');
      return out;
    } finally {
      this.open = false;
      // Waiting writes first (each a single statement), then the next transaction.
      for (const wake of this.writers.splice(0)) wake();
      this.transactions.shift()?.();
    }
  }

  /** Waits to be woken; one promise hop, so wake order is continuation order. */
  private park(queue: (() => void)[], what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = queue.indexOf(wake);
        if (at >= 0) queue.splice(at, 1);
        reject(new Error(`Database statement waited ${this.gateTimeoutMs / 1000}s for a transaction (a write on the engine from inside a transaction?): ${what.slice(0, 60)}`));
      }, this.gateTimeoutMs);
      queue.push(wake);
    });
  }
}

/** Queries inside one transaction; refused once it ended (a leaked handle). */
class TxSql implements Sql {
  closed = false;

  constructor(private readonly raw: RawSql) {}

  async all<T>(sql: string, params: readonly SqlValue[] = NO_PARAMS): Promise<T[]> {
    return this.live().all<T>(sql, params);
  }

  async get<T>(sql: string, params: readonly SqlValue[] = NO_PARAMS): Promise<T | undefined> {
    return this.live().get<T>(sql, params);
  }

  async run(sql: string, params: readonly SqlValue[] = NO_PARAMS): Promise<RunResult> {
    return this.live().run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    return this.live().exec(sql);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    this.live();
    return fn(this);
  }

  private live(): RawSql {
    if (this.closed) throw new Error('Database transaction already ended');
    return this.raw;
  }
}
