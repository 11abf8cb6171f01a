import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../lib/server/db';
import type { SqliteEngine } from '../../../lib/server/db/sqlite-engine';
import { NO_EXPIRY } from '../../../lib/server/db/snapshots';
import { normaliseExpiry } from '../../../lib/server/instance/snapshots';

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

t.test('snapshot expiry: kept with the offset it was given, pruned by time', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  t.equal(normaliseExpiry('2050-01-01T10:10:10.753398689-04:00'), '2050-01-01T10:10:10.753398689-04:00', "Go's RFC 3339 form, offset kept");
  t.equal(normaliseExpiry('2050-01-01T10:10:10.500+00:00'), '2050-01-01T10:10:10.5Z', 'a zero offset is Z');
  t.equal(normaliseExpiry('0001-01-01T00:00:00Z'), NO_EXPIRY);
  t.throws(() => normaliseExpiry('soon'), /Invalid expires_at "soon"/);
  const inst = await db.transaction((tx) =>
    tx.instances.create({
      project: 'default', name: 'c1', type: 'container', architecture: 'x86_64', ephemeral: false, stateful: false,
      description: '', createdAt: 'now', lastUsedAt: 'never', config: {}, devices: {}, profiles: [],
    }),
  );
  const snap = (name: string, expiresAt: string) => ({
    instanceId: inst.id, name, createdAt: '2024-01-01T00:00:00Z', expiresAt, stateful: false, description: '',
    architecture: 'x86_64', ephemeral: false, config: {}, devices: {}, profiles: [],
  });
  await db.transaction(async (tx) => {
    // 10:30 at -04:00 is 14:30 UTC: later than 12:00 UTC although its text sorts first.
    await tx.snapshots.create(snap('west', '2030-01-01T10:30:00-04:00'));
    await tx.snapshots.create(snap('utc', '2030-01-01T12:00:00Z'));
    await tx.snapshots.create(snap('never', NO_EXPIRY));
  });
  t.same((await db.snapshots.expired('2030-01-01T13:00:00.000Z')).map((e) => e.snapshot), ['utc']);
  t.same((await db.snapshots.expired('2030-01-01T15:00:00.000Z')).map((e) => e.snapshot), ['utc', 'west'], 'oldest first, never-expiring left alone');
  t.equal((await db.snapshots.get(inst.id, 'west'))?.expiresAt, '2030-01-01T10:30:00-04:00');
});

t.test('instances_devices_config: device keys readable and writable by hand-written SQL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  await db.transaction((tx) => tx.instances.create({
    project: 'default', name: 'c1', type: 'container', architecture: 'x86_64', ephemeral: false, stateful: false, description: '',
    createdAt: 'now', lastUsedAt: 'never', config: {}, profiles: [],
    devices: { p: { type: 'proxy', connect: 'tcp:127.0.0.1:4321' }, 'a.b': { type: 'none' } },
  }));
  const { runAdminSql } = await import('../../../lib/server/db/admin-sql');
  const [sel] = await runAdminSql(db.engine, "SELECT device, key, value FROM instances_devices_config WHERE key = 'connect'");
  t.same(sel!.rows, [['p', 'connect', 'tcp:127.0.0.1:4321']]);
  await runAdminSql(db.engine, "UPDATE instances_devices_config SET value='tcp:localhost:4321' WHERE value='tcp:127.0.0.1:4321';");
  await runAdminSql(db.engine, "UPDATE instances_devices_config SET value='x' WHERE device='a.b' AND key='type'");
  t.same((await db.instances.get('default', 'c1'))!.devices, { p: { type: 'proxy', connect: 'tcp:localhost:4321' }, 'a.b': { type: 'x' } }, 'device names with dots are quoted in the JSON path');
});

t.test('network forwards: one per listen address, gone with their network', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-db-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(join(dir, 'x.db'));
  t.teardown(() => db.close());
  const net = await db.networks.create({ project: 'default', name: 'br0', type: 'bridge', description: '', config: {}, status: 'Created' });
  await db.networkForwards.create({ networkId: net.id, listenAddress: '192.0.2.2', description: 'd', config: { 'user.x': '1' }, ports: [] });
  await t.rejects(db.networkForwards.create({ networkId: net.id, listenAddress: '192.0.2.2', description: '', config: {}, ports: [] }), /UNIQUE/);
  const f = await db.networkForwards.get(net.id, '192.0.2.2');
  t.match(f, { network: 'br0', listenAddress: '192.0.2.2', description: 'd', config: { 'user.x': '1' }, ports: [] });
  await db.networks.delete(net.id);
  t.same(await db.networkForwards.all(), []);
});
