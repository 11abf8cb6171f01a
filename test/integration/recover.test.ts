/**
 * `incus admin recover`: an instance whose database rows were removed by
 * hand (daemon stopped) is found on its pool, listed again with its config
 * (from backup.yaml) and snapshots, and starts.
 */
import t from 'tap';
import { existsSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';
import { forgetInstance } from './lib/forget-instance';

t.test('admin recover rebuilds lost instance rows', async (t) => {
  const d = await withDaemon(t);
  t.teardown(() => d.cli(['delete', '-f', 'r1']));
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await d.cli(args, input);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await ok(['init', 'busybox', 'r1', '-c', 'user.mark=one']);
  await ok(['snapshot', 'create', 'r1', 's0']);
  const yaml = join(d.dir, 'storage-pools', 'default', 'containers', 'r1', 'backup.yaml');
  for (let i = 0; i < 50 && !(existsSync(yaml) && readFileSync(yaml, 'utf8').includes('name: s0')); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(readFileSync(yaml, 'utf8'), /user\.mark: one/, 'backup.yaml kept current');

  t.match(await ok(['admin', 'recover'], 'no\nyes\n'), /No unknown storage pools or volumes found\. Nothing to do\./, 'nothing to recover at first');

  await forgetInstance(d, 'r1');
  // As after a lost INCUS_DIR: only the pool is left to recover from.
  rmSync(join(d.dir, 'containers-snapshots', 'r1'));
  t.same(await d.client.getInstances(0), [], 'the instance is gone from the database');

  const out = await ok(['admin', 'recover'], 'no\nyes\nyes\n');
  t.match(out, /Container "r1" on pool "default" in project "default" \(includes 1 snapshots\)/);
  const r1 = await d.client.getInstance('r1');
  t.equal(r1.config['user.mark'], 'one', 'config recovered from backup.yaml');
  t.same(
    (JSON.parse(await ok(['snapshot', 'list', 'r1', '-f', 'json'])) as { name: string }[]).map((s) => s.name),
    ['s0'],
    'snapshot recovered',
  );
  t.equal(
    readlinkSync(join(d.dir, 'containers-snapshots', 'r1')),
    join(d.dir, 'storage-pools', 'default', 'containers-snapshots', 'r1'),
    'snapshot link in place',
  );
  await ok(['start', 'r1']);
  t.equal(lxcAttach(d.dir, 'r1', ['cat', '/etc/hostname']).out.trim(), 'r1', 'the recovered instance starts');
});

t.test('admin sql, and admin recover of a lost pool with its custom volume and instance', async (t) => {
  const d = await withDaemon(t);
  t.teardown(async () => {
    await d.cli(['delete', '-f', 'r2']);
    await d.cli(['storage', 'volume', 'delete', 'default', 'v1']);
  });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await d.cli(args, input);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const sql = (q: string): Promise<string> => ok(['admin', 'sql', 'global', q]);

  // admin sql: a table for a SELECT, rows affected otherwise, one heading per statement when several.
  t.match(await sql("SELECT name FROM projects WHERE name = 'default'"), /\| +name +\|\n[+-]+\n\| default \|/);
  await ok(['config', 'set', 'user.sqltest=1']);
  t.equal(await sql("DELETE FROM config WHERE key = 'user.sqltest'"), 'Rows affected: 1\n');
  t.match(await sql('SELECT 1 AS a; SELECT 2 AS b'), /^=> Query 0:\n\n[\s\S]*\n=> Query 1:\n\n/);
  t.match(await ok(['admin', 'sql', 'global', '-'], 'SELECT 7 AS seven\n'), /\| 7 +\|/, 'the query read from stdin');
  const bad = await d.cli(['admin', 'sql', 'nope', 'SELECT 1']);
  t.match(bad.stderr, /Invalid database/);

  await ok(['storage', 'set', 'default', 'user.foo=bah']);
  await ok(['storage', 'volume', 'create', 'default', 'v1']);
  await ok(['storage', 'volume', 'snapshot', 'create', 'default', 'v1', 's0']);
  await ok(['init', 'busybox', 'r2']);
  await ok(['storage', 'volume', 'set', 'default', 'container/r2', 'user.v=at-s0']);
  await ok(['snapshot', 'create', 'r2', 's0']);
  t.match(await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'container/r2', 's0']), /user\.v: at-s0/, "an instance snapshot's volume row");
  const yaml = join(d.dir, 'storage-pools', 'default', 'containers', 'r2', 'backup.yaml');
  for (let i = 0; i < 50 && !(existsSync(yaml) && readFileSync(yaml, 'utf8').includes('name: s0')); i++) await new Promise((r) => setTimeout(r, 100));

  // Everything on the pool forgotten, the pool too (its volume rows go with it, as in Incus).
  await sql("DELETE FROM instances WHERE name = 'r2'");
  t.equal(await sql("DELETE FROM storage_volumes WHERE name = 'v1'"), 'Rows affected: 1\n', 'the snapshot rows go with it (not counted)');
  await sql("DELETE FROM storage_pools WHERE name = 'default'");
  t.match(await sql("SELECT COUNT(*) AS n FROM storage_volumes WHERE name LIKE 'v1%' OR name LIKE 'r2%'"), /\| 0 \|/, 'no volume row left');
  t.same(await d.client.getInstances(0), [], 'the instance is gone');

  const source = join(d.dir, 'storage-pools', 'default');
  const out = await ok(['admin', 'recover'], `yes\ndefault\ndir\n${source}\n\nno\nyes\nyes\n`);
  t.match(out, /The following unknown storage pools have been found:\n - Storage pool "default" of type "dir"/);
  t.match(out, /Container "r2" on pool "default" in project "default" \(includes 1 snapshots\)/);
  t.match(out, /Volume "v1" on pool "default" in project "default" \(includes 1 snapshots\)/);
  t.match(await ok(['storage', 'get', 'default', 'user.foo']), /^bah$/m, "the pool's config from the instance's backup.yaml");
  t.match(await sql("SELECT key, value FROM storage_pools_config JOIN storage_pools ON storage_pools.id = storage_pools_config.storage_pool_id WHERE storage_pools.name = 'default' ORDER BY key"), /\| user\.foo \| bah +\|/, 'storage_pools_config answers as Incus\'s table');
  t.match(await ok(['storage', 'volume', 'snapshot', 'show', 'default', 'v1', 's0']), /name: s0/, 'the custom volume and its snapshot are back');
  t.match(await ok(['storage', 'volume', 'get', 'default', 'container/r2/s0', 'user.v']), /^at-s0$/m, "and the instance snapshot's volume config");
  await ok(['start', 'r2']);
  t.equal(lxcAttach(d.dir, 'r2', ['cat', '/etc/hostname']).out.trim(), 'r2', 'the recovered instance starts');
  await ok(['stop', '-f', 'r2']);
});
