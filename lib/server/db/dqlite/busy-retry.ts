/**
 * Writes that met another member's write (Incus's query.Retry): dqlite runs
 * every member's statements on the leader without waiting on its write
 * lock, so a write while another member's transaction is open fails at once
 * with SQLITE_BUSY or SQLITE_LOCKED ("database is locked"), before anything
 * of it was applied. It is tried again, with a growing random pause, for a
 * while; a transaction is rolled back first and runs again as a whole.
 */
import { DqliteError } from './errors';

/** How long a write keeps trying (Incus retries for about as long). */
const RETRY_FOR_MS = 15_000;

/** Whether err is the leader's write lock being taken by another connection. */
export function isBusy(err: unknown): boolean {
  if (!(err instanceof DqliteError) || err.sqliteCode === undefined) return false;
  const primary = err.sqliteCode & 0xff;
  return primary === 5 || primary === 6;
}

export async function retryBusy<T>(op: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + RETRY_FOR_MS;
  let pause = 5;
  for (;;) {
    try {
      return await op();
    } catch (err) {
      if (!isBusy(err) || Date.now() + pause > deadline) throw err;
      await new Promise((r) => setTimeout(r, pause / 2 + Math.random() * pause));
      pause = Math.min(pause * 2, 250);
    }
  }
}
