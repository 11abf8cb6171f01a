/**
 * The one error class of the dqlite client. `code` is SQLite's name for the
 * (extended) result code a FAILURE response carried, as better-sqlite3
 * spells them ('SQLITE_CONSTRAINT_UNIQUE'), or one of the client's own:
 *  - 'ECONNLOST': the connection dropped while a request was in flight;
 *  - 'ENOLEADER': no leader could be found before the deadline;
 *  - 'ETIMEDOUT': a request got no answer in time (the connection is dropped);
 *  - 'ETXLOST': the leader went away inside a transaction; it is rolled back
 *    or lost, never retried;
 *  - 'EUNKNOWN': a write was in flight when the leader went away; it may or
 *    may not have been applied, so it is not retried;
 *  - 'EPROTO': the server sent something this client cannot read.
 */

/** SQLite result codes dqlite passes through, by number (primary and extended). */
const names: Record<number, string> = {
  1: 'SQLITE_ERROR', 2: 'SQLITE_INTERNAL', 3: 'SQLITE_PERM', 4: 'SQLITE_ABORT', 5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED', 7: 'SQLITE_NOMEM', 8: 'SQLITE_READONLY', 9: 'SQLITE_INTERRUPT', 10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT', 12: 'SQLITE_NOTFOUND', 13: 'SQLITE_FULL', 14: 'SQLITE_CANTOPEN', 15: 'SQLITE_PROTOCOL',
  17: 'SQLITE_SCHEMA', 18: 'SQLITE_TOOBIG', 19: 'SQLITE_CONSTRAINT', 20: 'SQLITE_MISMATCH', 21: 'SQLITE_MISUSE',
  23: 'SQLITE_AUTH', 25: 'SQLITE_RANGE',
  275: 'SQLITE_CONSTRAINT_CHECK', 787: 'SQLITE_CONSTRAINT_FOREIGNKEY', 1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY', 2067: 'SQLITE_CONSTRAINT_UNIQUE', 2579: 'SQLITE_CONSTRAINT_ROWID',
  10250: 'SQLITE_IOERR_NOT_LEADER', 10506: 'SQLITE_IOERR_LEADERSHIP_LOST',
  1001: 'DQLITE_PROTO',
};

/** SQLITE_IOERR_NOT_LEADER: the request was refused before it ran (safe to retry on the leader). */
export const NOT_LEADER = 10250;
/** SQLITE_IOERR_LEADERSHIP_LOST: leadership went while a write was being replicated. */
export const LEADERSHIP_LOST = 10506;

export class DqliteError extends Error {
  code: string;
  /** The SQLite result code, for errors the server reported. */
  declare sqliteCode?: number;
  /** Set when the request was never written: retrying it elsewhere is always safe. */
  declare notSent?: boolean;

  constructor(message: string, code: string, sqliteCode?: number) {
    super(message);
    this.name = 'DqliteError';
    this.code = code;
    if (sqliteCode !== undefined) this.sqliteCode = sqliteCode;
  }

  /** An error from a FAILURE response. */
  static fromFailure(code: number, message: string): DqliteError {
    const name = names[code] ?? names[code & 0xff] ?? `SQLITE_${code}`;
    return new DqliteError(message, name, code);
  }
}

/** Whether err means "not (or no longer) the leader": the connection is of no more use. */
export function isLeaderError(err: unknown): boolean {
  if (!(err instanceof DqliteError)) return false;
  return err.sqliteCode === NOT_LEADER || err.sqliteCode === LEADERSHIP_LOST || err.code === 'ECONNLOST' || err.code === 'ETIMEDOUT';
}
