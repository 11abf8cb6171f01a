/**
 * Enabling clustering moves a standalone host's database into dqlite while
 * the daemon serves: a real SQLite file with rows, triggers and views is
 * copied into a real dqlite node (in this process, reached on its abstract
 * socket) behind a SwitchableEngine; calls made during the move wait and
 * then land on dqlite; a failed move changes nothing.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DqliteNode } from '../../lib/native/dqlite';
import { dbOn } from '../../lib/server/db';
import { copyDatabase } from '../../lib/server/db/copy-database';
import { DqliteClient } from '../../lib/server/db/dqlite';
import { DqliteEngine } from '../../lib/server/db/dqlite-engine';
import { SqliteEngine } from '../../lib/server/db/sqlite-engine';
import { SwitchableEngine } from '../../lib/server/db/switchable-engine';

const root = mkdtempSync(join(tmpdir(), 'db-switch-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const noDial = async (): Promise<never> => {
  throw new Error('single-member test: no peers');
};

const base = {
  project: 'default', name: 'c1', type: 'container' as const, architecture: 'x86_64', ephemeral: false, stateful: false,
  description: '', createdAt: '2026-12-05T00:00:00Z', lastUsedAt: '0001-01-01T00:00:00Z', config: { 'user.a': '1' }, devices: {}, profiles: ['default'],
};

t.test('a standalone database moved into dqlite under a running Db', async (t) => {
  const node = await DqliteNode.create({ id: 1, address: 'member-1', dataDir: mkdtempSync(join(root, 'dqlite-')), dial: noDial, networkLatencyMs: 5 });
  await node.start();
  const client = new DqliteClient({ addresses: ['member-1'], dial: async () => node.connectLocal() });
  const sqlite = SqliteEngine.open(join(mkdtempSync(join(root, 'sqlite-')), 'db.bin'));
  const engine = new SwitchableEngine(sqlite);
  const db = await dbOn(engine);
  t.teardown(async () => {
    await db.close();
    client.close();
    await node.close();
  });

  await db.profiles.create({ project: 'default', name: 'p2', description: 'second', config: { 'limits.cpu': '1' }, devices: {} });
  await db.transaction((tx) => tx.instances.create({ ...base, profiles: ['default', 'p2'] }));
  await db.config.replace({ 'core.https_address': '127.0.0.1:8443' });
  const before = {
    instances: await db.instances.list(null),
    profiles: await db.profiles.list('default'),
    config: await db.config.all(),
    version: await engine.get<{ user_version: number }>('PRAGMA user_version'),
  };

  // A failed move leaves the SQLite engine serving, data untouched.
  await t.rejects(engine.replace(async () => {
    throw new Error('no leader');
  }), /no leader/);
  t.equal(engine.engine, sqlite, 'still on SQLite after a failed move');
  t.same(await db.instances.list(null), before.instances);

  // Calls made while the data moves wait, then run on dqlite.
  let moving!: () => void;
  const started = new Promise<void>((r) => (moving = r));
  // A transaction in flight when the move is asked for may still read on the engine: the move waits for it.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const tx = db.transaction(async (q) => {
    await held;
    await q.config.all();
    return (await db.profiles.list('default')).length;
  });
  await new Promise((r) => setImmediate(r));
  const replaced = engine.replace(async (old) => {
    moving();
    const dq = await DqliteEngine.open(client, 'db.bin');
    await copyDatabase(old, dq);
    return dq;
  });
  release();
  t.equal(await tx, before.profiles.length, 'a read on the engine from a transaction in flight is not held behind the move');
  await started;
  const during = db.config.replace({ 'core.https_address': '127.0.0.1:9443', 'user.x': 'y' });
  await replaced;
  await during;
  t.not(engine.engine, sqlite, 'dqlite serves now');

  t.same(await db.instances.list(null), before.instances, 'instance rows, profiles in order');
  t.same(await db.profiles.list('default'), before.profiles, 'profiles');
  t.same(await db.config.all(), { 'core.https_address': '127.0.0.1:9443', 'user.x': 'y' }, 'the write made during the move landed on dqlite');
  t.same(await engine.get('PRAGMA user_version'), before.version, 'schema version kept');

  // Triggers and foreign keys came along and work on dqlite.
  const views = await engine.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type IN ('trigger', 'view') ORDER BY name");
  t.ok(views.some((v) => v.name === 'storage_pools_config'), 'views copied');
  t.ok(views.some((v) => v.name === 'storage_volumes_snapshots_delete'), 'triggers copied');
  await t.rejects(db.profiles.delete((await db.profiles.get('default', 'p2'))!.id), /FOREIGN KEY/, 'foreign keys hold on dqlite');
  const rec = await db.transaction((tx) => tx.instances.create({ ...base, name: 'c2' }));
  t.ok(rec.id > before.instances[0]!.id, 'new rows get fresh ids after the copied ones');
});
