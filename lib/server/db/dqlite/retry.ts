/**
 * Runs one request on a leader connection and decides, when the leader is
 * lost, whether it may run again on the next leader: always when it was
 * refused unseen (NOT_LEADER) or never written; for reads also when it was
 * in flight; never for an in-flight write, which fails with EUNKNOWN.
 */
import type { Connection } from './connection';
import { DqliteError, isLeaderError, NOT_LEADER } from './errors';

/** Where the retried request gets its connection from, and how it lets a bad one go. */
export interface LeaderSlot {
  /** A connection to the leader, reconnecting when needed; throws ENOLEADER after deadline. */
  acquire(deadline: number): Promise<Connection>;
  /** Forgets conn (closing it) after a leader error. */
  drop(conn: Connection): void;
}

/** Whether a failed request may be sent again to the next leader. */
export function retryable(err: DqliteError, idempotent: boolean): boolean {
  if (err.notSent || err.sqliteCode === NOT_LEADER) return true;
  return idempotent;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs op on the leader, moving to a new leader on failover while it is safe, until timeoutMs passes. */
export async function onLeader<T>(slot: LeaderSlot, timeoutMs: number, idempotent: boolean, what: string, op: (c: Connection) => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let pause = 20;
  for (;;) {
    const conn = await slot.acquire(deadline);
    try {
      return await op(conn);
    } catch (err) {
      if (!isLeaderError(err)) throw err;
      slot.drop(conn);
      const e = err as DqliteError;
      if (!retryable(e, idempotent)) {
        throw new DqliteError(`${what} may or may not have been applied: the leader went away (${e.message})`, 'EUNKNOWN', e.sqliteCode);
      }
      if (Date.now() + pause > deadline) throw e;
      await sleep(pause);
      pause = Math.min(pause * 2, 500);
    }
  }
}
