/**
 * Where a host's database file lives: database/global/db.bin, as Incus
 * keeps its global database (scripts and Incus's own test harness open that
 * file with sqlite3). Installations made before this layout kept it at
 * database/incus.db; it is moved once, before the daemon opens it.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

const LEGACY_FILE = 'incus.db';
/** SQLite's companion files, which move with the database. */
const SUFFIXES = ['', '-wal', '-shm'] as const;

/** The database file of the host whose INCUS_DIR is varDir. */
export function globalDbPath(varDir: string): string {
  return join(varDir, 'database', 'global', 'db.bin');
}

/** Creates database/global and moves a database left at the old path into it (only while the daemon is down). */
export function prepareGlobalDb(varDir: string): string {
  const path = globalDbPath(varDir);
  mkdirSync(join(varDir, 'database', 'global'), { recursive: true, mode: 0o700 });
  const legacy = join(varDir, 'database', LEGACY_FILE);
  if (existsSync(legacy) && !existsSync(path)) {
    // The main file last: a crash midway leaves the old path in place, so the move is retried.
    for (const s of [...SUFFIXES].reverse()) if (existsSync(legacy + s)) renameSync(legacy + s, path + s);
  }
  return path;
}
