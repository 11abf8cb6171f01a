import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../lib/server/db';
import type { SqliteEngine } from '../../../lib/server/db/sqlite-engine';

t.test('schema, instances with ordered profiles, rollback', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  t.equal((db.engine as SqliteEngine).pragma('journal_mode'), 'wal');
  t.ok(await db.profiles.get('default', 'default'), 'default profile exists');
  const base = {
    project: 'default', name: 'c1', type: 'container' as const, architecture: 'x86_64', ephemeral: false, stateful: false,
    description: '', createdAt: 'now', lastUsedAt: 'never', config: { 'user.a': '1' }, devices: {}, profiles: ['default'],
  };
  const rec = await db.transaction((tx) => tx.instances.create(base));
  t.same((await db.instances.get('default', 'c1'))?.profiles, ['default']);
  await t.rejects(db.transaction((tx) => tx.instances.create(base)), /UNIQUE/);
  await t.rejects(db.transaction(async (tx) => {
    await tx.instances.rename(rec.id, 'c2');
    await tx.instances.create({ ...base, name: 'c3', profiles: ['missing'] });
  }), /missing/);
  t.ok(await db.instances.get('default', 'c1'), 'the failed transaction rolled back the rename');
  t.equal((await db.instances.list('default')).length, 1);
  t.same(await db.profiles.usedBy((await db.profiles.get('default', 'default'))!.id), [{ name: 'c1', project: 'default' }]);
  await db.close();
  const again = await openDb(join(dir, 'x.db'));
  t.equal((await again.instances.list(null)).length, 1, 'reopening keeps data and does not re-run migrations');
  await again.close();
});
