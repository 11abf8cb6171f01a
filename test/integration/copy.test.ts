/**
 * Local instance copy and move: a stopped container with a marker file and
 * a snapshot is copied (with its snapshots), copied from the snapshot, and
 * renamed with `move`; copies get a fresh identity and render the hostname
 * template for their own name. Bad requests leave nothing behind. The pool
 * driver comes from INCUS_TEST_POOL_DRIVER (default dir).
 */
import t from 'tap';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';

const DRIVER = process.env.INCUS_TEST_POOL_DRIVER || 'dir';

t.test('instance copy and move', async (t) => {
  const d = await withDaemon(t);
  const pool = DRIVER === 'dir' ? 'default' : 'copytest';
  if (DRIVER !== 'dir') await d.client.createStoragePool({ name: pool, driver: DRIVER, config: {}, description: '' });
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const names = ['c1', 'c2', 'c3', 'c4'];
  t.teardown(async () => {
    for (const n of names) await d.cli(['delete', '-f', n]);
    if (DRIVER !== 'dir') await d.cli(['storage', 'delete', pool]);
  });
  const vol = (n: string): string => join(d.dir, 'storage-pools', pool, 'containers', n);
  const snapVol = (n: string, s: string): string => join(d.dir, 'storage-pools', pool, 'containers-snapshots', n, s);

  await ok(['init', 'busybox', 'c1', '-s', pool, '-c', 'user.mark=one']);
  writeFileSync(join(vol('c1'), 'rootfs', 'marker'), 'before\n');
  await ok(['snapshot', 'create', 'c1', 'snap0']);
  writeFileSync(join(vol('c1'), 'rootfs', 'marker'), 'after\n');

  await ok(['copy', 'c1', 'c2']);
  const c1 = await d.client.getInstance('c1');
  const c2 = await d.client.getInstance('c2');
  t.equal(c2.config['user.mark'], 'one', 'config copied');
  t.same(c2.profiles, c1.profiles, 'profiles copied');
  t.ok(c2.config['volatile.uuid'] && c2.config['volatile.uuid'] !== c1.config['volatile.uuid'], 'fresh volatile.uuid');
  t.equal(c2.config['volatile.apply_template'], 'copy');
  t.equal(readFileSync(join(vol('c2'), 'rootfs', 'marker'), 'utf8'), 'after\n', 'volume copied');
  t.equal(readFileSync(join(snapVol('c2', 'snap0'), 'rootfs', 'marker'), 'utf8'), 'before\n', 'snapshot volume copied');
  t.equal(readlinkSync(join(d.dir, 'containers-snapshots', 'c2')), dirname(snapVol('c2', 'snap0')), 'the copy has its snapshot link');
  const snaps = JSON.parse(await ok(['snapshot', 'list', 'c2', '-f', 'json'])) as { name: string }[];
  t.same(
    snaps.map((s) => s.name),
    ['snap0'],
    'snapshot rows copied',
  );

  await ok(['copy', 'c1/snap0', 'c3', '-c', 'user.extra=yes']);
  t.equal(readFileSync(join(vol('c3'), 'rootfs', 'marker'), 'utf8'), 'before\n', 'copied from the snapshot');
  t.equal((await d.client.getInstance('c3')).config['user.extra'], 'yes', '-c applied');
  t.same(JSON.parse(await ok(['snapshot', 'list', 'c3', '-f', 'json'])), [], 'a copy from a snapshot has no snapshots');

  await ok(['copy', 'c1', 'c4', '--instance-only']);
  t.same(JSON.parse(await ok(['snapshot', 'list', 'c4', '-f', 'json'])), [], '--instance-only skips snapshots');
  t.notOk(existsSync(snapVol('c4', 'snap0')));
  t.notOk(existsSync(join(d.dir, 'containers-snapshots', 'c4')), 'and no snapshot link');

  // Failures answer at once and leave nothing.
  const dup = await d.cli(['copy', 'c1', 'c2']);
  t.not(dup.code, 0, 'copy onto an existing name fails');
  const missing = await d.cli(['copy', 'c1/nosuch', 'c5']);
  t.not(missing.code, 0, 'copy from a missing snapshot fails');
  t.match(missing.stderr, /not found/i);
  t.notOk(existsSync(vol('c5')), 'no volume left behind');

  await ok(['start', 'c2']);
  t.equal(lxcAttach(d.dir, 'c2', ['cat', '/marker']).out, 'after\n', 'the copy starts and has the file');
  t.equal(lxcAttach(d.dir, 'c2', ['cat', '/etc/hostname']).out.trim(), 'c2', 'hostname template rendered for the copy');
  await ok(['stop', '-f', 'c2']);

  await ok(['move', 'c4', 'c5']);
  names.push('c5');
  t.ok(existsSync(vol('c5')) && !existsSync(vol('c4')), 'move renames');
  t.notOk(c1.config['volatile.apply_template'] === 'copy', 'source untouched');
});

t.test('move to another project and pool on the same server, as Incus', async (t) => {
  const d = await withDaemon(t);
  const ok = async (args: string[]): Promise<string> => {
    const r = await d.cli(args);
    t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const fails = async (args: string[], message: string): Promise<void> => {
    const r = await d.cli(args);
    t.not(r.code, 0, `incus ${args.join(' ')} fails`);
    t.match(r.stderr, message);
  };
  const poolDir = join(d.dir, 'storage-pools', 'p2');
  await ok(['storage', 'create', 'p2', 'dir']);
  await ok(['project', 'create', 'tp']);
  await ok(['profile', 'create', 'tprof', '--project', 'tp']);
  t.teardown(async () => {
    for (const [n, p] of [['m1', 'tp'], ['m2', 'tp'], ['m3', 'default'], ['m3', 'tp'], ['m4', 'tp'], ['r1', 'default']]) await d.cli(['delete', '-f', n!, '--project', p!]);
    await d.cli(['profile', 'delete', 'tprof', '--project', 'tp']);
    await d.cli(['project', 'delete', 'tp']);
    await d.cli(['storage', 'delete', 'p2']);
  });
  const volIn = (pool: string, project: string, n: string): string =>
    join(pool === 'default' ? join(d.dir, 'storage-pools', 'default') : poolDir, 'containers', project === 'default' ? n : `${project}_${n}`);

  // To another project: the snapshot, the data and the identity go along; nothing stays behind.
  await ok(['init', 'busybox', 'm1', '-c', 'user.mark=one']);
  writeFileSync(join(volIn('default', 'default', 'm1'), 'rootfs', 'marker'), 'moved\n');
  await ok(['snapshot', 'create', 'm1', 's0']);
  const before = await d.client.getInstance('m1');
  await ok(['move', 'm1', '--target-project', 'tp']);
  t.equal((await d.cli(['list', '-c', 'n', '-f', 'csv'])).stdout.trim(), '', 'gone from the default project');
  const moved = await d.client.useProject('tp').getInstance('m1');
  t.equal(moved.config['user.mark'], 'one', 'config kept');
  t.equal(moved.config['volatile.uuid'], before.config['volatile.uuid'], 'same instance UUID');
  t.equal(moved.config['volatile.eth0.hwaddr'], before.config['volatile.eth0.hwaddr'], 'same MAC address');
  t.same(moved.profiles, ['default'], 'profiles kept');
  t.equal(moved.devices.root?.pool, 'default', 'the root disk stays on its pool, now a local device');
  t.equal(readFileSync(join(volIn('default', 'tp', 'm1'), 'rootfs', 'marker'), 'utf8'), 'moved\n', 'data moved');
  t.notOk(existsSync(volIn('default', 'default', 'm1')), 'source volume removed');
  t.equal(JSON.parse(await ok(['snapshot', 'list', 'm1', '--project', 'tp', '-f', 'json'])).length, 1, 'the snapshot came along');

  // Overrides: no profiles, a profile, config.
  await ok(['init', 'busybox', 'm2']);
  await ok(['move', 'm2', '--target-project', 'tp', '--profile', 'tprof', '-c', 'user.test=success']);
  const m2 = await d.client.useProject('tp').getInstance('m2');
  t.same(m2.profiles, ['tprof'], '--profile applied');
  t.equal(m2.config['user.test'], 'success', '--config applied');
  await ok(['init', 'busybox', 'm4', '-c', 'security.protection.delete=true']);
  await ok(['move', 'm4', '--target-project', 'tp', '--no-profiles']);
  t.same((await d.client.useProject('tp').getInstance('m4')).profiles, [], '--no-profiles (and delete protection does not stop a move)');
  await ok(['config', 'unset', 'm4', 'security.protection.delete', '--project', 'tp']);
  await ok(['init', 'busybox', 'bad']);
  await fails(['move', 'bad', '--target-project', 'tp', '--profile', 'nope'], 'Profile "nope" not found');
  t.ok((await d.client.getInstance('bad')).name === 'bad', 'a refused move leaves the source');
  // Hostile values in each field the move reads: refused (400/404, or a failed operation), the source untouched on disk.
  const hostile: Record<string, unknown>[] = [
    { project: '..' },
    { project: '../../etc' },
    { pool: '../../etc' },
    { pool: 'default/../..' },
    { project: 'tp', name: '../escape' },
    { project: 'tp', name: 'a/b' },
    { project: 'tp', profiles: ['../x'] },
    { project: 'tp', config: { '../x': 'y' } },
    { project: 'tp', devices: { root: { type: 'disk', path: '/', pool: '../../etc' } } },
  ];
  for (const extra of hostile) {
    const r = await d.client.raw('POST', '/1.0/instances/bad', { migration: true, ...extra }).then(
      async (res) => {
        const op = (res.response as unknown as { operation?: string }).operation ?? '';
        const done = await d.client.raw('GET', `${op}/wait?timeout=30`);
        return (done.response as unknown as { metadata: { status: string } }).metadata.status;
      },
      (err: Error & { status?: number }) => String(err.status),
    );
    t.ok(['400', '404', 'Failure'].includes(r), `move with ${JSON.stringify(extra)} refused (${r})`);
    t.ok(existsSync(volIn('default', 'default', 'bad')), `the source volume is still there after ${JSON.stringify(extra)}`);
  }
  t.same((JSON.parse(await ok(['list', '--project', 'tp', '-f', 'json'])) as { name: string }[]).map((i) => i.name).sort(), ['m1', 'm2', 'm4'], 'nothing landed in the target project');
  await ok(['delete', 'bad']);

  // To another pool in the same project (a temporary name, then the instance's own).
  await ok(['init', 'busybox', 'm3']);
  const m3uuid = (await d.client.getInstance('m3')).config['volatile.uuid'];
  await ok(['move', 'm3', '--storage', 'p2']);
  const m3 = await d.client.getInstance('m3');
  t.equal(m3.devices.root?.pool, 'p2', 'root disk on the new pool');
  t.equal(m3.config['volatile.uuid'], m3uuid, 'same UUID');
  t.ok(existsSync(volIn('p2', 'default', 'm3')) && !existsSync(volIn('default', 'default', 'm3')), 'volume moved between pools');
  t.same((JSON.parse(await ok(['list', '-f', 'json'])) as { name: string }[]).map((i) => i.name), ['m3'], 'no temporary instance left');
  await ok(['move', 'm3', '--target-project', 'tp', '-d', 'root,pool=default', '-d', 'root,size=1GiB']);
  t.same((await d.client.useProject('tp').getInstance('m3')).devices.root, { type: 'disk', path: '/', pool: 'default', size: '1GiB' }, '-d overrides the root disk over its expanded form');
  t.ok(existsSync(volIn('default', 'tp', 'm3')), 'and the volume follows it');

  // Running instances, refresh and local renames are refused as Incus refuses them.
  await ok(['launch', 'busybox', 'r1']);
  await fails(['move', 'r1', '--target-project', 'tp', '--stateless'], 'Instance must be stopped to be moved across projects');
  await fails(['move', 'r1', '--storage', 'p2', '--stateless'], "Live storage pool changes aren't supported for containers");
  await fails(['move', 'r1', '--target-project', 'tp', '--stateless', '--refresh'], 'Instance must be stopped to be moved statelessly');
  await fails(['move', 'r1', 'r2', '--stateless', '--refresh'], "Can't perform an incremental transfer in local rename");
  await fails(['move', 'r1'], "Can't perform local rename without a new instance name");
  await fails(['move', 'r1', 'r2', '-c', 'user.a=b'], "Can't override configuration or profiles in local rename");
  const live = await d.client.raw('POST', '/1.0/instances/r1', { migration: true, live: true, refresh: true }).catch((e: Error) => e);
  t.match((live as Error).message, "Refresh migration can't be used with a stateful migration");
  await ok(['config', 'set', 'r1', 'cluster.evacuate=refresh-migrate']);
});
