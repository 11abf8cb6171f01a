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

  t.match(await ok(['admin', 'recover'], 'no\n'), /No unknown volumes found/, 'nothing to recover at first');

  await forgetInstance(d, 'r1');
  // As after a lost INCUS_DIR: only the pool is left to recover from.
  rmSync(join(d.dir, 'containers-snapshots', 'r1'));
  t.same(await d.client.getInstances(0), [], 'the instance is gone from the database');

  const out = await ok(['admin', 'recover'], 'yes\n');
  t.match(out, /Instance "r1" on pool "default" in project "default" \(includes 1 snapshots\)/);
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
