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
