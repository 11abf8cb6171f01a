import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../lib/server/db';

t.test('schema, instances with ordered profiles, rollback', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  t.equal(db.handle.sql.pragma('journal_mode', { simple: true }), 'wal');
  t.ok(db.profiles.get('default', 'default'), 'default profile exists');
  const base = {
    project: 'default', name: 'c1', type: 'container' as const, architecture: 'x86_64', ephemeral: false, stateful: false,
    description: '', createdAt: 'now', lastUsedAt: 'never', config: { 'user.a': '1' }, devices: {}, profiles: ['default'],
  };
  const rec = db.transaction(() => db.instances.create(base));
  t.same(db.instances.get('default', 'c1')?.profiles, ['default']);
  t.throws(() => db.transaction(() => db.instances.create(base)), /UNIQUE/);
  t.throws(() => db.transaction(() => {
    db.instances.rename(rec.id, 'c2');
    db.instances.create({ ...base, name: 'c3', profiles: ['missing'] });
  }), /missing/);
  t.ok(db.instances.get('default', 'c1'), 'the failed transaction rolled back the rename');
  t.equal(db.instances.list('default').length, 1);
  t.same(db.profiles.usedBy(db.profiles.get('default', 'default')!.id), [{ name: 'c1', project: 'default' }]);
  db.close();
  const again = openDb(join(dir, 'x.db'));
  t.equal(again.instances.list(null).length, 1, 'reopening keeps data and does not re-run migrations');
  again.close();
});
