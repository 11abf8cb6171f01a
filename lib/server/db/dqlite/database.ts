/**
 * One database opened on the leader: exec and query with positional
 * parameters, prepared statements and transactions, over one connection
 * that callers take in turn (a FIFO lock), so a transaction's statements
 * never interleave with anyone else's. On failover the connection is
 * replaced and the request retried when that is safe (see retry.ts);
 * inside a transaction nothing is retried: it fails with ETXLOST.
 */
import type { Connection } from './connection';
import { Mutex } from './connection';
import { DqliteError, isLeaderError } from './errors';
import type { DqliteClient } from './client';
import { LeaderConnection } from './leader-connection';
import { decodeResult, decodeRows, Request, Response, type SqlParam, type SqlValue } from './protocol';
import { finalizeRequest, openRequest, prepareRequest, sqlRequest, stmtRequest } from './requests';
import { onLeader } from './retry';

/** What a write did. */
export interface ExecResult {
  lastInsertId: number | bigint;
  rowsAffected: number;
}

/** Rows of a query: column names and one array of values per row. */
export interface QueryResult {
  columns: string[];
  rows: SqlValue[][];
}

/** Rows as objects keyed by column name. */
export function rowObjects(r: QueryResult): Array<Record<string, SqlValue>> {
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
}

function checkSql(sql: unknown, params: unknown): void {
  if (typeof sql !== 'string' || sql.trim() === '') throw new TypeError('dqlite: sql must be a non-empty string');
  if (!Array.isArray(params)) throw new TypeError('dqlite: params must be an array');
}

async function execOn(c: Connection, sql: string, params: readonly SqlParam[]): Promise<ExecResult> {
  return decodeResult((await c.call(sqlRequest(Request.ExecSql, 0, sql, params), Response.Result)).body);
}

/** Reads ROWS responses until the last batch. */
async function readRows(c: Connection, first: Buffer): Promise<QueryResult> {
  let batch = decodeRows(first);
  const out: QueryResult = { columns: batch.columns, rows: batch.rows };
  while (batch.more) {
    batch = decodeRows((await c.read(Response.Rows)).body);
    for (const r of batch.rows) out.rows.push(r);
  }
  return out;
}

async function queryOn(c: Connection, sql: string, params: readonly SqlParam[]): Promise<QueryResult> {
  return readRows(c, (await c.call(sqlRequest(Request.QuerySql, 0, sql, params), Response.Rows)).body);
}

/** The statements of one transaction; valid only inside the callback. */
export interface DqliteTransaction {
  exec(sql: string, params?: readonly SqlParam[]): Promise<ExecResult>;
  query(sql: string, params?: readonly SqlParam[]): Promise<QueryResult>;
}

export class DqliteDatabase {
  private readonly slot: LeaderConnection;
  private readonly lock = new Mutex();
  /** Bumped on every new connection: prepared statement ids die with theirs. */
  private generation = 0;
  private current: Connection | null = null;
  private closed = false;

  /** @param init statements run on every new connection (per-connection pragmas such as foreign_keys). */
  constructor(
    private readonly client: DqliteClient,
    readonly name: string,
    private readonly onClose: () => void,
    init: readonly string[] = [],
  ) {
    this.slot = new LeaderConnection(client, async (c) => {
      const f = await c.call(openRequest(name), Response.Db);
      if (f.body.readUInt32LE(0) !== 0) throw new DqliteError('dqlite: unexpected database id', 'EPROTO');
      for (const sql of init) await execOn(c, sql, []);
      this.generation++;
      this.current = c;
    });
  }

  /** Connects now (open() does), so that a bad name or no leader shows at once. */
  async connect(): Promise<void> {
    await this.slot.acquire(Date.now() + this.client.leaderTimeoutMs);
  }

  private run<T>(idempotent: boolean, what: string, op: (c: Connection) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DqliteError(`database ${this.name} is closed`, 'ECONNLOST'));
    return this.lock.run(() => onLeader(this.slot, this.client.leaderTimeoutMs, idempotent, what, op));
  }

  /** Runs sql (several statements allowed; parameters bind to the first). */
  exec(sql: string, params: readonly SqlParam[] = []): Promise<ExecResult> {
    checkSql(sql, params);
    return this.run(false, 'the statement', (c) => execOn(c, sql, params));
  }

  /** Runs one query and reads all of its rows (every ROWS batch). */
  query(sql: string, params: readonly SqlParam[] = []): Promise<QueryResult> {
    checkSql(sql, params);
    return this.run(true, 'the query', (c) => queryOn(c, sql, params));
  }

  /** Prepares sql once per connection; the statement is prepared again after a failover. */
  async prepare(sql: string): Promise<DqliteStatement> {
    checkSql(sql, []);
    const stmt = new DqliteStatement(this, sql);
    await this.run(true, 'prepare', (c) => stmt.ensure(c));
    return stmt;
  }

  /** @internal the generation of conn, for statement caching. */
  generationOf(conn: Connection): number {
    return conn === this.current ? this.generation : -1;
  }

  /** @internal runs a statement operation under the database's lock. */
  runStatement<T>(idempotent: boolean, op: (c: Connection) => Promise<T>): Promise<T> {
    return this.run(idempotent, 'the statement', op);
  }

  /**
   * Runs fn between BEGIN and COMMIT on one connection, holding it so that
   * nobody else's statements interleave; ROLLBACK when fn throws (its error
   * is rethrown). If the leader goes away before COMMIT the transaction is
   * lost (ETXLOST); during COMMIT its outcome is unknown (EUNKNOWN).
   */
  transaction<T>(fn: (tx: DqliteTransaction) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DqliteError(`database ${this.name} is closed`, 'ECONNLOST'));
    return this.lock.run(async () => {
      // BEGIN may move to a new leader: a transaction dies with its connection.
      const conn = await onLeader(this.slot, this.client.leaderTimeoutMs, true, 'BEGIN', async (c) => {
        await execOn(c, 'BEGIN', []);
        return c;
      });
      let open = true;
      const guard = async <R>(op: () => Promise<R>): Promise<R> => {
        if (!open) throw new DqliteError('the transaction is over', 'ETXLOST');
        try {
          return await op();
        } catch (err) {
          if (isLeaderError(err)) {
            this.slot.drop(conn);
            throw new DqliteError(`transaction lost: ${(err as Error).message}`, 'ETXLOST', (err as DqliteError).sqliteCode);
          }
          throw err;
        }
      };
      const tx: DqliteTransaction = {
        exec: (sql, params = []) => (checkSql(sql, params), guard(() => execOn(conn, sql, params))),
        query: (sql, params = []) => (checkSql(sql, params), guard(() => queryOn(conn, sql, params))),
      };
      let result: T;
      try {
        result = await fn(tx);
      } catch (err) {
        open = false;
        if (!conn.broken) {
          await execOn(conn, 'ROLLBACK', []).catch(() => this.slot.drop(conn));
        }
        throw err;
      }
      open = false;
      try {
        await execOn(conn, 'COMMIT', []);
      } catch (err) {
        if (isLeaderError(err)) {
          this.slot.drop(conn);
          throw new DqliteError(`COMMIT may or may not have been applied: ${(err as Error).message}`, 'EUNKNOWN', (err as DqliteError).sqliteCode);
        }
        // A failed COMMIT (e.g. a deferred constraint) leaves the transaction open.
        await execOn(conn, 'ROLLBACK', []).catch(() => this.slot.drop(conn));
        throw err;
      }
      return result;
    });
  }

  /** Closes the connection; later calls fail. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.slot.close();
    this.onClose();
  }
}

/** A statement prepared on the leader's connection. */
export class DqliteStatement {
  private stmtId = -1;
  private generation = -1;

  constructor(
    private readonly db: DqliteDatabase,
    readonly sql: string,
  ) {}

  /** @internal prepares the statement on c unless it already is. */
  async ensure(c: Connection): Promise<number> {
    const gen = this.db.generationOf(c);
    if (this.stmtId >= 0 && gen === this.generation) return this.stmtId;
    const f = await c.call(prepareRequest(0, this.sql), Response.Stmt);
    this.stmtId = f.body.readUInt32LE(4);
    this.generation = gen;
    return this.stmtId;
  }

  exec(params: readonly SqlParam[] = []): Promise<ExecResult> {
    checkSql(this.sql, params);
    return this.db.runStatement(false, async (c) => {
      const id = await this.ensure(c);
      return decodeResult((await c.call(stmtRequest(Request.Exec, 0, id, params), Response.Result)).body);
    });
  }

  query(params: readonly SqlParam[] = []): Promise<QueryResult> {
    checkSql(this.sql, params);
    return this.db.runStatement(true, async (c) => {
      const id = await this.ensure(c);
      return readRows(c, (await c.call(stmtRequest(Request.Query, 0, id, params), Response.Rows)).body);
    });
  }

  /** Frees the statement on the server (a no-op once its connection is gone). */
  async finalize(): Promise<void> {
    if (this.stmtId < 0) return;
    const id = this.stmtId;
    const gen = this.generation;
    this.stmtId = -1;
    await this.db.runStatement(true, async (c) => {
      if (this.db.generationOf(c) !== gen) return;
      await c.call(finalizeRequest(0, id), Response.Empty);
    });
  }
}
