/**
 * Instances across a three-member cluster in the testbed (issue 20): a
 * dir pool defined before the joins is created on each joiner's own disk;
 * `launch --target m2` from m1 runs the container on m2 (its image files
 * fetched from m1); exec, file pull and state changes asked of m1 or m3 are
 * passed on to m2; every member lists every instance with its location;
 * without --target the scheduler spreads new instances over the members;
 * evacuating a member stops its instances and `restore` starts them again.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterTestbed } from './lib/cluster-testbed';
import { formCluster, memberCli } from './lib/cluster-form';

t.test('launch --target, exec through another member, list with locations', async (t: Test) => {
  const tb = await ClusterTestbed.start(t, 3);
  const { run, ok } = memberCli(t, tb);
  const created: { i: number; name: string }[] = [];
  t.teardown(async () => {
    for (const c of created) await run(c.i, ['delete', '-f', c.name]);
  });

  await formCluster(3, ok);
  for (const i of [2, 3]) {
    t.ok(existsSync(join(tb.member(i).dir, 'storage-pools', 'default')), `the pool was created on m${i}'s own disk`);
  }

  // Placed on m2 through m1.
  await ok(1, ['launch', 'busybox', 'c1', '--target', 'm2']);
  created.push({ i: 1, name: 'c1' });
  t.ok(existsSync(join(tb.member(2).dir, 'containers', 'c1')), 'c1 lives on m2');
  t.notOk(existsSync(join(tb.member(1).dir, 'containers', 'c1')), 'and not on m1');
  t.ok(existsSync(join(tb.member(2).dir, 'images')), 'm2 fetched the image files');

  // Operations on c1 asked of m1 and m3 run on m2.
  t.equal((await ok(1, ['exec', 'c1', '--', 'cat', '/proc/sys/kernel/hostname'])).trim(), 'c1', 'exec through m1');
  t.equal((await ok(3, ['exec', 'c1', '--', 'sh', '-c', 'echo hi > /tmp/f; cat /tmp/f'])).trim(), 'hi', 'exec through m3');
  t.equal(await ok(1, ['file', 'pull', 'c1/tmp/f', '-']), 'hi\n', 'file pull through m1');
  await ok(3, ['stop', 'c1', '--force']);
  t.match(await ok(1, ['list', 'c1', '-f', 'csv', '-c', 'ns']), /^c1,STOPPED$/m, 'stopped through m3');
  await ok(1, ['start', 'c1']);

  // Every member lists every instance with its location.
  await ok(3, ['launch', 'busybox', 'c3', '--target', 'm3']);
  created.push({ i: 3, name: 'c3' });
  for (const i of [1, 2, 3]) {
    t.equal(await ok(i, ['list', '-f', 'csv', '-c', 'nsL']), 'c1,RUNNING,m2\nc3,RUNNING,m3\n', `list on m${i}`);
  }
  const shown = await ok(1, ['query', '/1.0/instances/c3']);
  t.match(JSON.parse(shown), { location: 'm3', status: 'Running' }, 'the instance of m3 seen from m1');

  // No --target: the scheduler picks the member with the fewest instances (m1 has none).
  await ok(2, ['create', 'busybox', 'c4']);
  created.push({ i: 2, name: 'c4' });
  t.match(await ok(3, ['list', 'c4', '-f', 'csv', '-c', 'nL']), /^c4,m1$/m, 'placed on the least busy member');

  // Evacuating m2 stops its running instances (cluster.evacuate auto: no member-to-member transfer yet);
  // one the user stopped stays stopped after the restore.
  await ok(1, ['create', 'busybox', 'c2', '--target', 'm2']);
  created.push({ i: 1, name: 'c2' });
  t.equal(await ok(3, ['cluster', 'evacuate', 'm2', '--force', '-q']), '', 'evacuate from m3');
  t.match(await ok(1, ['cluster', 'list', '-f', 'csv', '-c', 'ns']), /^m2,EVACUATED$/m, 'm2 shows EVACUATED');
  t.equal(await ok(1, ['list', 'c', '-f', 'csv', '-c', 'nsL']), 'c1,STOPPED,m2\nc2,STOPPED,m2\nc3,RUNNING,m3\nc4,STOPPED,m1\n', 'c1 stopped by the evacuation');
  await ok(1, ['create', 'busybox', 'c6']);
  created.push({ i: 1, name: 'c6' });
  t.notMatch(await ok(1, ['list', 'c6', '-f', 'csv', '-c', 'L']), /m2/, 'nothing is placed on an evacuated member');
  await ok(1, ['cluster', 'restore', 'm2', '--force', '-q']);
  t.match(await ok(2, ['cluster', 'list', '-f', 'csv', '-c', 'ns']), /^m2,ONLINE$/m, 'm2 back ONLINE');
  t.match(await ok(3, ['list', 'c', '-f', 'csv', '-c', 'ns']), /^c1,RUNNING\nc2,STOPPED\n/, 'c1 running again, c2 still stopped');
  t.equal((await ok(1, ['exec', 'c1', '--', 'echo', 'back'])).trim(), 'back');

  // A member that does not exist.
  const bad = await run(1, ['create', 'busybox', 'c5', '--target', 'nope']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /Cluster member not found/);
});
