/**
 * The asynchronous SQL seam every query module is written against. Two
 * engines implement it: better-sqlite3 on a standalone host (local file, its
 * speed kept) and dqlite in a cluster (the same SQL, replicated by Raft).
 * Parameters are positional because dqlite binds by index.
 */

/** A value SQLite stores; booleans are written as 0/1 by the query modules. */
export type SqlValue = string | number | bigint | Buffer | null;

/** What a write reports. */
export interface RunResult {
  changes: number;
  lastInsertRowid: number;
}

/** Queries on one engine, or inside one of its transactions. */
export interface Sql {
  /** Every row of a query. */
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row of a query, or undefined. */
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement that returns no rows. */
  run(sql: string, params?: readonly SqlValue[]): Promise<RunResult>;
  /** Several statements without parameters (schema changes). */
  exec(sql: string): Promise<void>;
  /**
   * Runs fn in one write transaction and commits when it resolves, rolls back
   * when it throws. Inside a transaction this just runs fn in it (flattened).
   * Queries made on the engine itself while a transaction is open wait for it,
   * unless they come from inside it (then they join it).
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/** An engine: the root Sql plus the end of its life. */
export interface SqlEngine extends Sql {
  close(): Promise<void>;
}

/** One SQL text with typed parameters and row, run on the Sql it was made for. */
export class Statement<P extends readonly SqlValue[] = SqlValue[], R = unknown> {
  constructor(private readonly sql: Sql, readonly text: string) {}

  all(...params: P): Promise<R[]> {
    return this.sql.all<R>(this.text, params);
  }

  get(...params: P): Promise<R | undefined> {
    return this.sql.get<R>(this.text, params);
  }

  run(...params: P): Promise<RunResult> {
    return this.sql.run(this.text, params);
  }

  /** The same statement on another Sql (a transaction's). */
  in(sql: Sql): Statement<P, R> {
    return new Statement<P, R>(sql, this.text);
  }
}

/** Makes Statements on one Sql (the query modules' `prepare`). */
export class Statements {
  constructor(private readonly sql: Sql) {}

  prepare<P extends readonly SqlValue[] = SqlValue[], R = unknown>(text: string): Statement<P, R> {
    return new Statement<P, R>(this.sql, text);
  }

  named(text: string): NamedStatement {
    return new NamedStatement(this.sql, text);
  }
}

/**
 * A write with `@name` parameters, turned into positional ones once (dqlite
 * binds by index); run with an object holding every named value.
 */
export class NamedStatement {
  private readonly text: string;
  private readonly names: string[] = [];

  constructor(private readonly sql: Sql, text: string) {
    this.text = text.replace(/@(\w+)/g, (_, name: string) => {
      this.names.push(name);
      return '?';
    });
  }

  run(values: Readonly<Record<string, unknown>>): Promise<RunResult> {
    return this.sql.run(this.text, this.names.map((n) => {
      const v = values[n];
      if (v === undefined) throw new Error(`SQL parameter @${n} has no value`);
      return v as SqlValue;
    }));
  }
}
