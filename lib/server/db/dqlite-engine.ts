/**
 * The cluster engine: the same SQL on a dqlite database (Raft-replicated
 * SQLite) through the wire-protocol client. Two connections: writes and
 * transactions on one, held by a transaction for its whole length (dqlite
 * fails it with ETXLOST if the leader goes), reads on the other, so that a
 * read never waits behind a transaction (it sees committed rows, as a
 * second SQLite connection in WAL mode would).
 */
import { type DqliteClient, type DqliteDatabase, type DqliteTransaction, type QueryResult, rowObjects } from './dqlite';
import type { RunResult, SqlEngine, SqlValue } from './sql';
import { GatedSql, type RawSql } from './tx-gate';
import { retryBusy } from './dqlite/busy-retry';

const rows = <T>(r: QueryResult): T[] => rowObjects(r) as T[];

function runResult(r: { lastInsertId: number | bigint; rowsAffected: number }): RunResult {
  return { changes: r.rowsAffected, lastInsertRowid: Number(r.lastInsertId) };
}

/** Statements of one dqlite transaction. */
function txRaw(tx: DqliteTransaction): RawSql {
  return {
    all: async <T>(sql: string, params: readonly SqlValue[]) => rows<T>(await tx.query(sql, params)),
    get: async <T>(sql: string, params: readonly SqlValue[]) => rows<T>(await tx.query(sql, params))[0],
    run: async (sql, params) => runResult(await tx.exec(sql, params)),
    exec: async (sql) => {
      await tx.exec(sql);
    },
  };
}

class DqliteRaw implements RawSql {
  constructor(
    private readonly writes: DqliteDatabase,
    private readonly reads: DqliteDatabase,
  ) {}

  async all<T>(sql: string, params: readonly SqlValue[]): Promise<T[]> {
    return rows<T>(await this.reads.query(sql, params));
  }

  async get<T>(sql: string, params: readonly SqlValue[]): Promise<T | undefined> {
    return rows<T>(await this.reads.query(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[]): Promise<RunResult> {
    return runResult(await retryBusy(() => this.writes.exec(sql, params)));
  }

  async exec(sql: string): Promise<void> {
    await retryBusy(() => this.writes.exec(sql));
  }

  /** A transaction that met another member's is rolled back and run again whole (fn only touches the database). */
  transaction<T>(fn: (raw: RawSql) => Promise<T>): Promise<T> {
    return retryBusy(() => this.writes.transaction((tx) => fn(txRaw(tx))));
  }
}

export class DqliteEngine extends GatedSql implements SqlEngine {
  private constructor(private readonly dbs: DqliteDatabase[]) {
    super(new DqliteRaw(dbs[0], dbs[1]));
  }

  /** Opens database `name` on the cluster the client reaches (its two connections). */
  static async open(client: DqliteClient, name: string): Promise<DqliteEngine> {
    // Foreign keys are per connection in SQLite: on every connection, after a failover too.
    const init = ['PRAGMA foreign_keys = ON'];
    const writes = await client.open(name, init);
    const reads = await client.open(name, init).catch((err: unknown) => {
      writes.close();
      throw err;
    });
    return new DqliteEngine([writes, reads]);
  }

  async close(): Promise<void> {
    for (const d of this.dbs) d.close();
  }
}
