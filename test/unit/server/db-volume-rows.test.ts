/** Volume rows kept with the instance snapshots, pools and volumes they belong to (triggers of migration v9). */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../lib/server/db';

t.test("instance snapshots keep their root volume's snapshot row; volume rows follow renames and deletes", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  await db.transaction((tx) => tx.pools.create({ name: 'p', driver: 'dir', description: '', config: { 'user.k': 'v' }, status: 'Created' }));
  const inst = await db.transaction((tx) =>
    tx.instances.create({
      project: 'default', name: 'c1', type: 'container', architecture: 'x86_64', ephemeral: false, stateful: false,
      description: '', createdAt: 'now', lastUsedAt: 'never', config: {}, devices: {}, profiles: [],
    }),
  );
  const vol = { pool: 'p', project: 'default', type: 'container', contentType: 'filesystem', description: '', createdAt: 'now' };
  const v = await db.transaction((tx) => tx.pools.createVolume({ ...vol, name: 'c1', config: { 'user.foo': 'one' } }));
  const snap = { instanceId: inst.id, createdAt: 'now', expiresAt: 'never', stateful: false, description: '', architecture: 'x86_64', ephemeral: false, config: {}, devices: {}, profiles: [] };
  const s0 = await db.transaction((tx) => tx.snapshots.create({ ...snap, name: 's0' }));
  await db.transaction((tx) => tx.snapshots.create({ ...snap, name: 's1' }, { description: 'd', config: { 'user.foo': 'given' } }));
  t.same((await db.pools.volume('p', 'default', 'container', 'c1/s0'))?.config, { 'user.foo': 'one' }, "the volume's config when taken");
  t.equal((await db.pools.volume('p', 'default', 'container', 'c1/s1'))?.config['user.foo'], 'given', 'or the one given (a backup)');
  await db.transaction((tx) => tx.snapshots.rename(s0.id, 's2'));
  t.ok(await db.pools.volume('p', 'default', 'container', 'c1/s2'), 'a snapshot rename renames the row');
  await db.transaction((tx) => tx.pools.renameVolume(v.id, 'c9'));
  t.same((await db.pools.volumes('p')).map((x) => x.name), ['c9', 'c9/s1', 'c9/s2'], 'a volume rename carries its snapshot rows');
  await db.transaction((tx) => tx.pools.deleteVolume(v.id));
  t.same(await db.pools.volumes('p'), [], 'and a delete takes them');
  await db.transaction((tx) => tx.pools.createVolume({ ...vol, name: 'x', config: {} }));
  await db.engine.run("DELETE FROM storage_pools WHERE name = 'p'");
  t.same(await db.engine.all('SELECT * FROM storage_volumes'), [], "deleting a pool's row by hand takes its volume rows (as Incus's schema)");
});
