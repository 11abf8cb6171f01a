/** Makes the daemon forget an instance as a lost database would: rows deleted while it is down, files kept. */
import Database from 'better-sqlite3';
import type { TestDaemon } from './daemon';
import { globalDbPath } from '../../../lib/server/db/location';

/** Stops the daemon, deletes the instance's and its volume's rows by name, starts the daemon again. */
export async function forgetInstance(d: TestDaemon, name: string): Promise<void> {
  await d.signal('SIGTERM');
  const db = new Database(globalDbPath(d.dir));
  db.pragma('foreign_keys = ON');
  db.prepare('DELETE FROM storage_volumes WHERE name = ?').run(name);
  db.prepare('DELETE FROM instances WHERE name = ?').run(name);
  db.close();
  await d.start();
}
