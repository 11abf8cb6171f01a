/**
 * Cluster membership and groups on a three-member testbed cluster (issue 20):
 * cluster groups (create, list, show, assign/add/remove, rename, delete with
 * Incus's refusals) and `launch --target @group` placing on a member of the
 * group; removing a member that holds an instance is refused, an empty one
 * (the database leader) is removed (no more listed, back to standalone with
 * an empty database), and `--force` (after Incus's prompt, or with --yes) removes a member that
 * holds one, its instance with it.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { clusterCli, formCluster } from './lib/cluster-cli';
import { ClusterTestbed } from './lib/cluster-testbed';

t.test('cluster groups, --target @group, member removal', async (t: Test) => {
  const tb = await ClusterTestbed.start(t, 3);
  const cli = clusterCli(t, tb);
  const { run, ok } = cli;
  const fails = async (i: number, args: string[], error: RegExp, input?: string): Promise<string> => {
    const r = await run(i, args, input);
    t.not(r.code, 0, `m${i}: incus ${args.join(' ')} fails`);
    t.match(r.stderr, error, `m${i}: incus ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };

  await formCluster(cli, 3);

  // Groups: "default" holds every member, joiners included.
  t.equal(await ok(2, ['cluster', 'group', 'list', '-f', 'csv']), 'default,Default cluster group,3\n', 'the default group');
  t.equal(await ok(1, ['cluster', 'group', 'create', 'g1', '--description', 'first']), 'Cluster group g1 created\n');
  await fails(1, ['cluster', 'group', 'create', 'g1'], /This "cluster_groups" entry already exists/);
  t.equal(await ok(3, ['cluster', 'group', 'assign', 'm3', 'default,g1']), 'Cluster member m3 added to cluster groups [default g1]\n');
  t.equal(await ok(1, ['cluster', 'group', 'list', '-f', 'csv']), 'default,Default cluster group,3\ng1,first,1\n', 'g1 holds m3');
  t.equal(await ok(2, ['cluster', 'group', 'show', 'g1']), 'config: {}\ndescription: first\nmembers:\n- m3\nname: g1\nused_by: []\n');
  t.match(JSON.parse(await ok(1, ['query', '/1.0/cluster/members/m3'])), { groups: ['default', 'g1'] }, "the member's groups");
  t.equal(await ok(1, ['cluster', 'group', 'add', 'm2', 'g1']), 'Cluster member m2 added to group g1\n');
  await fails(1, ['cluster', 'group', 'add', 'm2', 'g1'], /Cluster member m2 is already in group g1/);
  t.equal(await ok(1, ['cluster', 'group', 'remove', 'm2', 'g1']), 'Cluster member m2 removed from group g1\n');
  await fails(1, ['cluster', 'group', 'remove', 'm2', 'g1'], /Cluster group g1 isn't currently applied to m2/);
  await fails(1, ['cluster', 'group', 'assign', 'm2', 'nope'], /Cluster group not found/);
  await fails(1, ['cluster', 'group', 'delete', 'default'], /The 'default' cluster group cannot be deleted/);
  await fails(1, ['cluster', 'group', 'rename', 'default', 'x'], /The "default" group cannot be renamed/);
  await fails(1, ['cluster', 'group', 'delete', 'g1'], /Only empty cluster groups can be removed/);
  t.equal(await ok(1, ['cluster', 'group', 'create', 'tmp']), 'Cluster group tmp created\n');
  t.equal(await ok(1, ['cluster', 'group', 'rename', 'tmp', 'tmp2']), 'Cluster group tmp renamed to tmp2\n');
  await ok(1, ['cluster', 'group', 'edit', 'tmp2'], 'description: edited\nconfig:\n  user.a: b\nmembers: []\n');
  t.match(JSON.parse(await ok(1, ['query', '/1.0/cluster/groups/tmp2'])), { description: 'edited', config: { 'user.a': 'b' }, members: [] }, 'edited from stdin');
  t.equal(await ok(1, ['cluster', 'group', 'delete', 'tmp2']), 'Cluster group tmp2 deleted\n');

  // --target @g1 from m1: placed on m3, the only member of g1.
  await ok(1, ['launch', 'busybox', 'c1', '--target', '@g1']);
  t.ok(existsSync(join(tb.member(3).dir, 'containers', 'c1')), 'c1 lives on m3');
  t.match(await ok(2, ['list', 'c1', '-f', 'csv', '-c', 'nL']), /^c1,m3$/m, 'listed on m3');
  await fails(1, ['create', 'busybox', 'c9', '--target', '@nope'], /Cluster group "nope" doesn't exist/);

  // Removal refused while the member holds an instance.
  await fails(1, ['cluster', 'remove', 'm3'], /Node still has the following instances: c1/);
  await fails(1, ['cluster', 'remove', 'nope'], /Cluster member not found/);

  // An empty member is removed, from another member: here m1, the database leader (the files of
  // the image it imported are on m3 too); it goes back to standalone with an empty database.
  t.match(JSON.parse(await ok(2, ['query', '/1.0/cluster/members/m1'])).roles, ['database-leader', 'database'], 'm1 leads');
  t.equal(await ok(2, ['cluster', 'remove', 'm1']), 'Member m1 removed\n');
  t.ok((await ok(3, ['cluster', 'list', '-f', 'csv', '-c', 'r'])).includes('database-leader'), 'another member leads');
  for (const i of [2, 3]) t.equal(await ok(i, ['cluster', 'list', '-f', 'csv', '-c', 'n']), 'm2\nm3\n', `m1 no more listed on m${i}`);
  t.equal(await ok(3, ['cluster', 'group', 'list', '-f', 'csv']), 'default,Default cluster group,2\ng1,first,1\n', 'nor in the groups');
  t.match(JSON.parse(await ok(1, ['query', '/1.0/cluster'])), { enabled: false, server_name: '' }, 'm1 is standalone');
  await fails(1, ['cluster', 'list'], /Server isn't part of a cluster/);
  t.equal(await ok(1, ['image', 'list', '-f', 'csv', '-c', 'l']), '', 'with an empty database');
  t.equal((await ok(2, ['exec', 'c1', '--', 'echo', 'still'])).trim(), 'still', 'the cluster still works');

  // --force asks first (Incus's prompt), then removes a member that holds an instance.
  await ok(2, ['stop', 'c1', '--force']);
  const asked = await fails(2, ['cluster', 'remove', 'm3', '--force'], /User aborted delete operation/, 'no\n');
  t.match(asked, /^Forcefully removing a server from the cluster should only be done as a last\nresort\.\n[^]*Are you really sure you want to force removing m3\? \(yes\/no\): $/, 'the prompt');
  t.equal(await ok(2, ['cluster', 'remove', 'm3', '--force', '--yes']), 'Member m3 removed\n');
  t.equal(await ok(2, ['cluster', 'list', '-f', 'csv', '-c', 'n']), 'm2\n', 'm3 no more listed');
  t.equal(await ok(2, ['list', '-f', 'csv', '-c', 'n']), '', 'its instance went with it');
  t.equal(await ok(2, ['cluster', 'group', 'show', 'g1']), 'config: {}\ndescription: first\nmembers: []\nname: g1\nused_by: []\n', 'g1 is empty now');
  t.equal(await ok(2, ['cluster', 'group', 'delete', 'g1']), 'Cluster group g1 deleted\n');
  await fails(2, ['cluster', 'remove', 'm2'], /Member is the only member in the cluster/);
});
