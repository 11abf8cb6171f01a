/**
 * Storage pools and managed networks defined cluster-wide (issue 20), on a
 * three-member testbed: `storage create p dir --target mN source=...` records
 * each member's keys (the pool Pending, nothing on disk), the create without
 * --target makes it on every member and marks it Created (Incus's errors for
 * a member left out, a member key without --target, a pool already created);
 * a container launched on m3 lives on m3's copy; deleting removes it from
 * every member. Networks go the same way, each member bringing its bridge up
 * in its own network namespace.
 */
import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterTestbed } from './lib/cluster-testbed';
import { clusterCli, formCluster } from './lib/cluster-cli';

const MEMBERS = [1, 2, 3];

t.test('pending and created pools and networks across members', async (t: Test) => {
  const tb = await ClusterTestbed.start(t, 3);
  const cli = clusterCli(t, tb);
  const { run, ok } = cli;
  const fails = async (i: number, args: string[], message: RegExp): Promise<void> => {
    const r = await run(i, args);
    t.not(r.code, 0, `m${i}: incus ${args.join(' ')} fails`);
    t.match(r.stderr, message);
  };
  const query = async (i: number, path: string): Promise<Record<string, unknown>> => JSON.parse(await ok(i, ['query', path])) as Record<string, unknown>;
  const poolDir = (i: number, name: string) => join(tb.member(i).dir, 'storage-pools', name);

  await formCluster(cli, 3);

  t.test('a pool pending on members, then created on every one', async (t: Test) => {
    t.equal(await ok(1, ['storage', 'create', 'p2', 'dir', '--target', 'm1', `source=${poolDir(1, 'p2')}`]), 'Storage pool p2 pending on member m1\n');
    await ok(2, ['storage', 'create', 'p2', 'dir', '--target', 'm2', `source=${poolDir(2, 'p2')}`]);
    t.notOk(existsSync(poolDir(1, 'p2')), 'nothing on disk while pending');
    t.match(await query(3, '/1.0/storage-pools/p2'), { status: 'Pending', locations: ['m1', 'm2'] }, 'pending on m1 and m2');

    await fails(1, ['storage', 'create', 'p2', 'dir', '--target', 'm2'], /The storage pool already defined on member "m2"/);
    await fails(1, ['storage', 'create', 'p2', 'dir', '--target', 'm3', 'rsync.bwlimit=10'], /Config key "rsync.bwlimit" may not be used as member-specific key/);
    await fails(1, ['storage', 'create', 'p2', 'btrfs', '--target', 'm3'], /Storage pool already exists with a different driver/);
    await fails(1, ['storage', 'create', 'p2', 'dir', '--target', 'nope'], /Cluster member not found/);
    await fails(1, ['storage', 'create', 'p2', 'dir'], /Pool not defined on nodes: m3/);
    await fails(1, ['storage', 'create', 'p2', 'dir', 'source=/x'], /Config key "source" is cluster member specific/);
    await fails(1, ['storage', 'create', 'p9', 'dir'], /Pool not pending on any node \(use --target <node> first\)/);

    await ok(3, ['storage', 'create', 'p2', 'dir', '--target', 'm3']);
    t.equal(await ok(2, ['storage', 'create', 'p2', 'dir', '--description', 'everywhere']), 'Storage pool p2 created\n');
    for (const i of MEMBERS) t.ok(existsSync(poolDir(i, 'p2')), `p2 created on m${i}'s disk`);
    const shown = await query(1, '/1.0/storage-pools/p2');
    t.match(shown, { status: 'Created', locations: ['m1', 'm2', 'm3'], description: 'everywhere' }, 'created, on every member');
    t.notOk('source' in (shown.config as object), 'no member key without a target');
    t.match(await query(1, '/1.0/storage-pools/p2?target=m2'), { status: 'Created', config: { source: poolDir(2, 'p2') } }, "m2's own source with ?target=m2");
    t.match(await ok(3, ['storage', 'show', 'p2', '--target', 'm3']), `source: ${poolDir(3, 'p2')}`);
    await fails(1, ['storage', 'create', 'p2', 'dir'], /The storage pool is already created/);
    await fails(1, ['storage', 'create', 'p2', 'dir', '--target', 'm1'], /Storage pool is not in pending state/);

    await ok(1, ['launch', 'busybox', 'c1', '--target', 'm3', '-s', 'p2']);
    t.ok(existsSync(join(poolDir(3, 'p2'), 'containers', 'c1')), "c1's volume is in m3's copy of p2");
    t.equal((await ok(2, ['exec', 'c1', '--', 'echo', 'on p2'])).trim(), 'on p2');
    await fails(2, ['storage', 'delete', 'p2'], /The storage pool is currently in use/);
    await ok(2, ['delete', '-f', 'c1']);

    t.equal(await ok(2, ['storage', 'delete', 'p2']), 'Storage pool p2 deleted\n');
    for (const i of MEMBERS) t.notOk(existsSync(poolDir(i, 'p2')), `p2 gone from m${i}'s disk`);
    await fails(3, ['storage', 'show', 'p2'], /Storage pool not found/);

    // A pool only pending somewhere is deleted from the database alone.
    await ok(1, ['storage', 'create', 'p3', 'dir', '--target', 'm1']);
    await ok(1, ['storage', 'delete', 'p3']);
    await fails(2, ['storage', 'show', 'p3'], /Storage pool not found/);
  });

  t.test('a bridge pending on members, then up in each member\'s namespace', async (t: Test) => {
    const link = async (i: number, name: string) => tb.exec(i, ['ip', '-o', 'link', 'show', name]);
    const sh = async (i: number, cmd: string) => tb.exec(i, ['sh', '-c', cmd]);
    t.equal((await sh(1, 'ip link add ext1 type veth peer name ext1p')).code, 0, 'an uplink (a veth) in m1');

    t.equal(await ok(1, ['network', 'create', 'br7', '--target', 'm1', 'bridge.external_interfaces=ext1']), 'Network br7 pending on member m1\n');
    await ok(1, ['network', 'create', 'br7', '--target', 'm2']);
    t.not((await link(1, 'br7')).code, 0, 'no bridge while pending');
    t.match(JSON.parse(await ok(3, ['query', '/1.0/networks/br7'])), { status: 'Pending', locations: ['m1', 'm2'] });
    await fails(1, ['network', 'create', 'br7', '--target', 'm3', 'ipv4.address=10.9.9.1/24'], /Config key "ipv4.address" may not be used as member-specific key/);
    await fails(1, ['network', 'create', 'br7', '--target', 'm2'], /Network "br7" is already defined on member "m2"/);
    await fails(1, ['network', 'create', 'br7', '--target', 'm3', '--description', 'x'], /The network description cannot be set for a specific member/);
    await fails(2, ['network', 'create', 'br7'], /Network not defined on nodes: m3/);
    await fails(2, ['network', 'create', 'br7', 'parent=eth0'], /Config key "parent" is cluster member specific/);
    await fails(2, ['network', 'create', 'br8', 'ipv6.address=none'], /Network not pending on any node \(use --target <node> first\)/);

    await ok(3, ['network', 'create', 'br7', '--target', 'm3']);
    t.equal(await ok(2, ['network', 'create', 'br7', 'ipv4.address=10.77.0.1/24', 'ipv6.address=none']), 'Network br7 created\n');
    for (const i of MEMBERS) t.equal((await link(i, 'br7')).code, 0, `br7 is up in m${i}'s namespace`);
    t.match((await sh(1, 'ip -o addr show br7')).stdout, /10\.77\.0\.1\/24/, 'the shared address on m1');
    t.match((await link(1, 'ext1')).stdout, /master br7/, "m1's own uplink joined its bridge");
    const shown = JSON.parse(await ok(1, ['query', '/1.0/networks/br7'])) as { status: string; locations: string[]; config: Record<string, string> };
    t.match(shown, { status: 'Created', locations: ['m1', 'm2', 'm3'], config: { 'ipv4.address': '10.77.0.1/24' } });
    t.notOk('bridge.external_interfaces' in shown.config, 'no member key without a target');
    t.match(await ok(3, ['network', 'show', 'br7', '--target', 'm1']), /bridge\.external_interfaces: ext1/);
    await fails(1, ['network', 'create', 'br7'], /The network is already created/);

    t.equal(await ok(3, ['network', 'delete', 'br7']), 'Network br7 deleted\n');
    for (const i of MEMBERS) t.not((await link(i, 'br7')).code, 0, `br7 gone from m${i}`);
    await fails(1, ['network', 'show', 'br7'], /Network not found/);
  });
});
