/** The database file's place (database/global/db.bin) and the one-time move from database/incus.db. */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { globalDbPath, prepareGlobalDb } from '../../../lib/server/db/location';

function varDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'db-location-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'database'), { mode: 0o700 });
  return dir;
}

t.test('a fresh host gets database/global (0700) and the path Incus uses', async (t) => {
  const dir = varDir(t);
  const path = prepareGlobalDb(dir);
  t.equal(path, join(dir, 'database', 'global', 'db.bin'));
  t.equal(path, globalDbPath(dir));
  t.equal(statSync(join(dir, 'database', 'global')).mode & 0o777, 0o700);
  t.notOk(existsSync(path), 'the file itself is left to SQLite');
});

t.test('a database at the old path moves with its WAL and shared-memory files', async (t) => {
  const dir = varDir(t);
  const legacy = join(dir, 'database', 'incus.db');
  writeFileSync(legacy, 'main');
  writeFileSync(`${legacy}-wal`, 'wal');
  writeFileSync(`${legacy}-shm`, 'shm');
  const path = prepareGlobalDb(dir);
  t.equal(readFileSync(path, 'utf8'), 'main');
  t.equal(readFileSync(`${path}-wal`, 'utf8'), 'wal');
  t.equal(readFileSync(`${path}-shm`, 'utf8'), 'shm');
  t.notOk(existsSync(legacy), 'nothing left at the old path');
  t.notOk(existsSync(`${legacy}-wal`));
});

t.test('an existing database at the new path is never replaced by an old one', async (t) => {
  const dir = varDir(t);
  mkdirSync(join(dir, 'database', 'global'));
  writeFileSync(globalDbPath(dir), 'current');
  writeFileSync(join(dir, 'database', 'incus.db'), 'stale');
  prepareGlobalDb(dir);
  t.equal(readFileSync(globalDbPath(dir), 'utf8'), 'current');
  t.ok(existsSync(join(dir, 'database', 'incus.db')), 'the old file is left for the operator');
});
