/**
 * Instance snapshots end to end: take, change, restore (files and config),
 * rename, delete, list times, a per-minute schedule driven through the test
 * clock hook, expiry pruning, cleanup with the instance, and Incus's
 * $INCUS_DIR/containers-snapshots/<name> link to the pool. The pool driver
 * comes from INCUS_TEST_POOL_DRIVER (default dir).
 */
import t from 'tap';
import { existsSync, lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';

process.env.INCUS_TEST_HOOKS = '1';
const DRIVER = process.env.INCUS_TEST_POOL_DRIVER || 'dir';

t.test('instance snapshots', async (t) => {
  const d = await withDaemon(t);
  const pool = DRIVER === 'dir' ? 'default' : 'snaptest';
  if (DRIVER !== 'dir') await d.client.createStoragePool({ name: pool, driver: DRIVER, config: {}, description: '' });
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await ok(['init', 'busybox', 'c1', '-s', pool, '-c', 'user.mark=one']);
  t.teardown(() => d.cli(['delete', '-f', 'c1']));
  await ok(['storage', 'volume', 'set', pool, 'container/c1', 'user.foo=snap0']);
  const rootfs = join(d.dir, 'storage-pools', pool, 'containers', 'c1', 'rootfs');
  const snapDir = join(d.dir, 'storage-pools', pool, 'containers-snapshots', 'c1');
  writeFileSync(join(rootfs, 'marker'), 'before\n');

  const link = (name: string): string => join(d.dir, 'containers-snapshots', name);
  t.notOk(existsSync(link('c1')), 'no snapshot link before the first snapshot');
  await ok(['snapshot', 'create', 'c1']);
  await ok(['snapshot', 'create', 'c1', 'named', '--expiry', '2d']);
  t.ok(existsSync(join(snapDir, 'snap0', 'rootfs', 'marker')), 'snapshot volume exists');
  t.equal(readlinkSync(link('c1')), snapDir, 'containers-snapshots/c1 links to the pool');
  t.ok(existsSync(join(link('c1'), 'snap0', 'rootfs')), 'snapshot reached through the link');

  writeFileSync(join(rootfs, 'marker'), 'after\n');
  await ok(['config', 'set', 'c1', 'user.mark=two']);
  await ok(['storage', 'volume', 'set', pool, 'container/c1', 'user.foo=later']);
  const uuid = (await ok(['config', 'get', 'c1', 'volatile.uuid'])).trim();
  const generation = (await ok(['config', 'get', 'c1', 'volatile.uuid.generation'])).trim();
  await ok(['snapshot', 'restore', 'c1', 'snap0']);
  t.equal(readFileSync(join(rootfs, 'marker'), 'utf8'), 'before\n', 'file restored');
  t.equal((await ok(['config', 'get', 'c1', 'user.mark'])).trim(), 'one', 'config restored');
  t.equal((await ok(['storage', 'volume', 'get', pool, 'container/c1', 'user.foo'])).trim(), 'snap0', 'root volume config restored');
  t.equal((await ok(['config', 'get', 'c1', 'volatile.uuid'])).trim(), uuid, 'same instance UUID');
  const newGeneration = (await ok(['config', 'get', 'c1', 'volatile.uuid.generation'])).trim();
  t.match(newGeneration, /^[0-9a-f-]{36}$/);
  t.not(newGeneration, generation, 'a new generation UUID after restore');

  const list = JSON.parse(await ok(['snapshot', 'list', 'c1', '-f', 'json'])) as { name: string; created_at: string; expires_at: string }[];
  t.same(list.map((s) => s.name).sort(), ['named', 'snap0']);
  const named = list.find((s) => s.name === 'named')!;
  const days = (Date.parse(named.expires_at) - Date.parse(named.created_at)) / 86400_000;
  t.ok(Math.abs(days - 2) < 0.01, `expiry two days after creation (${days})`);
  const table = await ok(['snapshot', 'list', 'c1']);
  t.match(table, /TAKEN AT/);
  t.match(table, /EXPIRES AT/);
  t.match(table, /\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}/, 'times shown');

  await ok(['snapshot', 'rename', 'c1', 'named', 'kept']);
  t.ok(existsSync(join(snapDir, 'kept')) && !existsSync(join(snapDir, 'named')), 'renamed on disk');
  await ok(['snapshot', 'delete', 'c1', 'kept']);
  t.notOk(existsSync(join(snapDir, 'kept')), 'deleted on disk');
  const r = await d.cli(['snapshot', 'show', 'c1', 'kept']);
  t.not(r.code, 0, 'deleted snapshot is gone');

  // Schedule every minute, stopped instances too, with a pattern and a 1-minute expiry.
  await ok(['config', 'set', 'c1', 'snapshots.schedule=* * * * *', 'snapshots.schedule.stopped=true', 'snapshots.pattern=auto%d', 'snapshots.expiry=1M']);
  const base = new Date();
  base.setSeconds(0, 0);
  const tick = async (minutes: number) => {
    const at = new Date(base.getTime() + minutes * 60_000).toISOString();
    const res = await d.client.raw('POST', '/internal/testing/snapshots/tick', { time: at });
    return res.response as unknown as { metadata: { created: string[]; pruned: string[] } };
  };
  const t1 = (await tick(1)).metadata;
  t.same(t1.created, ['c1/auto0']);
  const t2 = (await tick(2)).metadata;
  t.same(t2.created, ['c1/auto1']);
  t.ok(t2.pruned.includes('c1/auto0'), 'expired snapshot pruned');
  const names = (JSON.parse(await ok(['snapshot', 'list', 'c1', '-f', 'json'])) as { name: string }[]).map((s) => s.name).sort();
  t.same(names, ['auto1', 'snap0']);
  t.notOk(existsSync(join(snapDir, 'auto0')), 'pruned volume removed');

  const full = await d.client.getInstanceFull('c1');
  t.equal(full.snapshots?.length, 2, 'recursion=2 lists snapshots');

  await ok(['rename', 'c1', 'c2']);
  const snapDir2 = join(d.dir, 'storage-pools', pool, 'containers-snapshots', 'c2');
  t.ok(existsSync(join(snapDir2, 'snap0')) && !existsSync(snapDir), 'snapshots moved with rename');
  t.equal(readlinkSync(link('c2')), snapDir2, 'the link moved with rename');
  t.throws(() => lstatSync(link('c1')), 'the old link is gone');
  t.equal(JSON.parse(await ok(['snapshot', 'list', 'c2', '-f', 'json'])).length, 2);
  await ok(['delete', 'c2']);
  t.notOk(existsSync(snapDir2), 'snapshots deleted with the instance');
  t.throws(() => lstatSync(link('c2')), 'the link deleted with the instance');

  // The link (and the pool's folder) go with the last snapshot.
  await ok(['init', 'busybox', 'c3', '-s', pool]);
  t.teardown(() => d.cli(['delete', '-f', 'c3']));
  await ok(['snapshot', 'create', 'c3', 'only']);
  t.ok(existsSync(join(link('c3'), 'only')), 'link made by the first snapshot');
  await ok(['snapshot', 'delete', 'c3', 'only']);
  t.throws(() => lstatSync(link('c3')), 'link removed with the last snapshot');
  t.notOk(existsSync(join(d.dir, 'storage-pools', pool, 'containers-snapshots', 'c3')), "the pool's snapshot folder too");
});

t.test('stateful snapshot without CRIU answers 400', async (t) => {
  const d = await withDaemon(t);
  const r0 = await d.cli(['launch', 'busybox', 's1']);
  t.equal(r0.code, 0, r0.stderr);
  t.teardown(() => d.cli(['delete', '-f', 's1']));
  const r = await d.client.raw('POST', '/1.0/instances/s1/snapshots', { name: 'st', stateful: true }).catch((e: Error & { status?: number }) => e);
  t.ok(r instanceof Error, 'refused');
  t.equal((r as { status?: number }).status, 400);
  t.match((r as Error).message, /CRIU/);

  // A plain snapshot of the running instance; restoring stops and restarts it, as Incus does.
  t.equal((await d.cli(['snapshot', 'create', 's1', 'live'])).code, 0);
  const csv = await d.cli(['list', 's1', '-c', 'nS', '-f', 'csv']);
  t.equal(csv.stdout.trim(), 's1,1', 'incus list counts snapshots');
  const rr = await d.cli(['snapshot', 'restore', 's1', 'live']);
  t.equal(rr.code, 0, rr.stderr);
  t.equal((await d.client.getInstance('s1')).status, 'Running', 'running again after restore');
});

t.test('@startup in snapshots.schedule takes a snapshot at each start, as Incus', async (t) => {
  const d = await withDaemon(t);
  const r0 = await d.cli(['launch', 'busybox', 'st1', '-c', 'snapshots.schedule=@startup, 10 2,5-8/2 * * *']);
  t.equal(r0.code, 0, r0.stderr);
  t.teardown(() => d.cli(['delete', '-f', 'st1']));
  const names = async (): Promise<string[]> => ((await d.client.raw('GET', '/1.0/instances/st1/snapshots')).response as unknown as { metadata: string[] }).metadata;
  t.same(await names(), ['/1.0/instances/st1/snapshots/snap0'], 'snap0 taken by the launch');
  const r1 = await d.cli(['restart', 'st1', '-f']);
  t.equal(r1.code, 0, r1.stderr);
  t.equal((await names()).length, 2, 'another one on restart');
  t.equal((await d.client.getInstance('st1')).status, 'Running');
  await d.cli(['stop', 'st1', '-f']);
  await d.cli(['config', 'set', 'st1', 'snapshots.schedule=@daily']);
  t.equal((await d.cli(['start', 'st1'])).code, 0);
  t.equal((await names()).length, 2, 'none without @startup');
});
