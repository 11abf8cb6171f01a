/**
 * The async seam's transaction gate on the real better-sqlite3 engine: one
 * write transaction at a time, writes on the engine wait for it, reads do
 * not, nested transactions flatten, a leaked handle is refused, and a write
 * on the engine from inside a transaction is an error, not a hang.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEngine } from '../../../lib/server/db/sqlite-engine';
import type { Sql } from '../../../lib/server/db/sql';

function engine(t: { teardown(f: () => Promise<void>): void }, gateTimeoutMs?: number): SqliteEngine {
  const dir = mkdtempSync(join(tmpdir(), 'incus-gate-'));
  const e = SqliteEngine.open(join(dir, 'g.db'), gateTimeoutMs);
  t.teardown(async () => {
    await e.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return e;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

t.test('commit, rollback, and the write that waits for an open transaction', async (t) => {
  const e = engine(t);
  await e.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
  const order: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const tx = e.transaction(async (sql) => {
    await sql.run('INSERT INTO kv VALUES (?, ?)', ['a', '1']);
    order.push('tx wrote');
    await held;
    await sql.run('UPDATE kv SET v = ? WHERE k = ?', ['2', 'a']);
    order.push('tx done');
  });
  await tick();
  const outside = e.run('INSERT INTO kv VALUES (?, ?)', ['b', '1']).then(() => order.push('outside wrote'));
  await tick();
  // Reads never wait; on the one connection they see the open transaction's rows.
  t.same(await e.all('SELECT k FROM kv ORDER BY k'), [{ k: 'a' }], 'a read during the transaction does not wait');
  t.same(order, ['tx wrote'], 'the outside write waits');
  release();
  await Promise.all([tx, outside]);
  t.same(order, ['tx wrote', 'tx done', 'outside wrote'], 'the outside write ran after the commit');
  t.same(await e.all('SELECT k, v FROM kv ORDER BY k'), [{ k: 'a', v: '2' }, { k: 'b', v: '1' }]);

  await t.rejects(
    e.transaction(async (sql) => {
      await sql.run('DELETE FROM kv');
      throw new Error('boom');
    }),
    /boom/,
  );
  t.equal((await e.all('SELECT k FROM kv')).length, 2, 'the throwing transaction rolled back');
});

t.test('transactions queue, nest flat, and a leaked handle is refused', async (t) => {
  const e = engine(t);
  await e.exec('CREATE TABLE n (i INTEGER)');
  const runs = [1, 2, 3].map((i) =>
    e.transaction(async (sql) => {
      const before = (await sql.get<{ c: number }>('SELECT count(*) AS c FROM n'))!.c;
      await tick();
      await sql.run('INSERT INTO n VALUES (?)', [before + i * 10]);
    }),
  );
  await Promise.all(runs);
  t.same((await e.all<{ i: number }>('SELECT i FROM n ORDER BY rowid')).map((r) => r.i), [10, 21, 32], 'each saw the one before it committed');

  let leaked: Sql | undefined;
  await e.transaction(async (sql) => {
    await sql.transaction(async (inner) => {
      t.equal(inner, sql, 'a nested transaction runs in the outer one');
      await inner.run('INSERT INTO n VALUES (1)');
    });
    leaked = sql;
  });
  await t.rejects(leaked!.run('INSERT INTO n VALUES (2)'), /already ended/);
  t.equal((await e.get<{ c: number }>('SELECT count(*) AS c FROM n'))!.c, 4);
});

t.test('a write on the engine from inside its own transaction fails instead of hanging', async (t) => {
  const e = engine(t, 200);
  await e.exec('CREATE TABLE x (i INTEGER)');
  await t.rejects(
    e.transaction(async () => {
      await e.run('INSERT INTO x VALUES (1)');
    }),
    /waited 0.2s for a transaction/,
  );
  await e.run('INSERT INTO x VALUES (2)');
  t.same(await e.all('SELECT i FROM x'), [{ i: 2 }], 'the gate is free again and the failed transaction left nothing');
});
