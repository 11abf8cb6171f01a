/**
 * The database seam's two engines run the same query modules: the local
 * better-sqlite3 file and a real single-member dqlite node (in this
 * process, reached on its abstract socket). Schema migrations, instance
 * rows with ordered profiles, foreign keys, rollback, a transaction that
 * writes while reads go on, and the gate's ordering behave alike.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DqliteNode } from '../../lib/native/dqlite';
import { dbOn, type Db, openDb } from '../../lib/server/db';
import { DqliteClient } from '../../lib/server/db/dqlite';
import { DqliteEngine } from '../../lib/server/db/dqlite-engine';

const root = mkdtempSync(join(tmpdir(), 'db-engines-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const noDial = async (): Promise<never> => {
  throw new Error('single-member test: no peers');
};

type Opened = { db: Db; close(): Promise<void> };

async function sqlite(): Promise<Opened> {
  const db = await openDb(join(mkdtempSync(join(root, 'sqlite-')), 'incus.db'));
  return { db, close: () => db.close() };
}

async function dqlite(): Promise<Opened> {
  const node = await DqliteNode.create({ id: 1, address: 'member-1', dataDir: mkdtempSync(join(root, 'dqlite-')), dial: noDial, networkLatencyMs: 5 });
  await node.start();
  const client = new DqliteClient({ addresses: ['member-1'], dial: async () => node.connectLocal() });
  const db = await dbOn(await DqliteEngine.open(client, 'incus.db'));
  return {
    db,
    close: async () => {
      await db.close();
      client.close();
      await node.close();
    },
  };
}

const base = {
  project: 'default', name: 'c1', type: 'container' as const, architecture: 'x86_64', ephemeral: false, stateful: false,
  description: '', createdAt: '2026-12-04T00:00:00Z', lastUsedAt: '0001-01-01T00:00:00Z', config: { 'user.a': '1' }, devices: {}, profiles: ['default'],
};

for (const [engine, open] of [['sqlite', sqlite], ['dqlite', dqlite]] as const) {
  t.test(`${engine}: the query modules`, async (t) => {
    const { db, close } = await open();
    t.teardown(close);
    t.ok(await db.projects.get('default'), 'migrated: the default project');
    t.ok(await db.profiles.get('default', 'default'), 'migrated: its default profile');
    await db.profiles.create({ project: 'default', name: 'p2', description: '', config: { 'limits.cpu': '1' }, devices: {} });

    const rec = await db.transaction((tx) => tx.instances.create({ ...base, profiles: ['default', 'p2'] }));
    t.same((await db.instances.get('default', 'c1'))?.profiles, ['default', 'p2'], 'profiles in apply order');
    await t.rejects(db.transaction((tx) => tx.instances.create(base)), /UNIQUE/, 'a duplicate name is refused');
    await t.rejects(
      db.transaction(async (tx) => {
        await tx.instances.rename(rec.id, 'c2');
        await tx.instances.create({ ...base, name: 'c3', profiles: ['missing'] });
      }),
      /missing/,
    );
    t.ok(await db.instances.get('default', 'c1'), 'the failed transaction rolled the rename back');
    await t.rejects(db.profiles.delete((await db.profiles.get('default', 'p2'))!.id), /FOREIGN KEY/, 'foreign keys are on');

    // A transaction in progress: an outside read does not wait, an outside write does.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const tx = db.transaction(async (q) => {
      await q.instances.setConfig(rec.id, { 'user.a': '2' });
      await held;
      order.push('commit');
    });
    await new Promise((r) => setTimeout(r, 20));
    t.equal((await db.instances.list('default')).length, 1, 'a read during the transaction answers');
    const write = db.config.replace({ 'core.https_address': '127.0.0.1:8443' }).then(() => order.push('outside write'));
    await new Promise((r) => setTimeout(r, 20));
    t.same(order, [], 'the outside write waits');
    release();
    await Promise.all([tx, write]);
    t.same(order, ['commit', 'outside write']);
    t.same((await db.instances.get('default', 'c1'))?.config, { 'user.a': '2' });
    t.same(await db.config.all(), { 'core.https_address': '127.0.0.1:8443' });

    const w = await db.warnings.upsert(1, 'default', '/1.0/instances/c1', 'first');
    const again = await db.warnings.upsert(1, 'default', '/1.0/instances/c1', 'second');
    t.equal(again.row.uuid, w.row.uuid, 'a warning seen again is the same row');
    t.equal(again.row.count, 2);
  });
}
