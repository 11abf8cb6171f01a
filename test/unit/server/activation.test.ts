/** `incusd activateifneeded`: the reasons Incus gives, read from a database seeded with raw SQL. */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../../../lib/server/db';
import { activationCheck } from '../../../lib/server/db/activation';

t.test('activation reasons in Incus order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'incus-activate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'incus.db');
  t.same(activationCheck(path), { activate: false, message: 'No local database, so no need to start the daemon now' });
  const db = await openDb(path);
  const sql = db.engine;
  const check = (): string => activationCheck(path).message;
  t.equal(check(), 'No need to start the daemon now');
  await sql.run("INSERT INTO config (key, value) VALUES ('core.https_address', '127.0.0.1:8443')");
  t.same(activationCheck(path), { activate: true, message: 'Daemon has core.https_address set, activating...' });
  await sql.run("DELETE FROM config WHERE key = 'core.https_address'");
  await db.transaction((tx) =>
    tx.instances.create({
      project: 'default', name: 'c1', type: 'container', architecture: 'x86_64', ephemeral: false, stateful: false,
      description: '', createdAt: 'now', lastUsedAt: 'never', config: {}, devices: {}, profiles: ['default'],
    }),
  );
  const setConfig = async (c: Record<string, string>): Promise<void> => {
    await sql.run("UPDATE instances SET config = ? WHERE name = 'c1'", [JSON.stringify(c)]);
  };
  t.equal(check(), 'No need to start the daemon now', 'a stopped instance');
  await setConfig({ 'volatile.last_state.power': 'RUNNING' });
  t.equal(check(), 'Daemon has auto-started instances, activating...', 'running at the last shutdown, boot.autostart unset');
  await setConfig({ 'volatile.last_state.power': 'RUNNING', 'boot.autostart': 'false' });
  t.equal(check(), 'No need to start the daemon now', 'boot.autostart=false wins');
  await setConfig({});
  await sql.run("UPDATE profiles SET config = ? WHERE name = 'default'", [JSON.stringify({ 'boot.autostart': 'true' })]);
  t.equal(check(), 'Daemon has auto-started instances, activating...', 'from a profile');
  await sql.run("UPDATE profiles SET config = '{}' WHERE name = 'default'");
  await setConfig({ 'snapshots.schedule': '* * * * *' });
  t.equal(check(), 'Daemon has scheduled instance snapshots, activating...');
  await setConfig({});
  await sql.run("INSERT INTO storage_pools (name, driver, description, config, status) VALUES ('p', 'dir', '', '{}', 'Created')");
  await sql.run(
    "INSERT INTO storage_volumes (pool_id, project_id, name, type, config, created_at) SELECT sp.id, 1, 'vol', 'custom', ?, 'now' FROM storage_pools sp WHERE sp.name = 'p'",
    [JSON.stringify({ 'snapshots.schedule': '@daily' })],
  );
  t.equal(check(), 'Daemon has scheduled volume snapshots, activating...');
  await db.close();
});
