/**
 * Disk devices whose source is not a plain host path: a custom volume's
 * sub-path (opened beneath the volume: relative symlinks followed, absolute
 * ones refused, missing directories made with initial.*), a host block
 * device (its filesystem mounted, raw.mount.options applied, cold and
 * hot-plugged) and `tmpfs:`. The loop device and its file are this test's
 * own and are removed even when a check fails.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { lxcAttach } from './lib/attach';
import { ok } from './lib/vm';

function sh(argv: string[]): { code: number | null; out: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

t.test('volume sub-paths, block devices and tmpfs', async (t) => {
  const d = await withDaemon(t);
  const inside = (name: string, cmd: string): string => lxcAttach(d.dir, name, ['sh', '-c', cmd]).out.trim();
  const pool = (await ok(t, d, ['profile', 'device', 'get', 'default', 'root', 'pool'])).trim();

  // Sub-paths of a volume.
  await ok(t, d, ['storage', 'volume', 'create', pool, 'sv']);
  await ok(t, d, ['launch', 'busybox', 'main']);
  await ok(t, d, ['config', 'device', 'add', 'main', 'sv', 'disk', `pool=${pool}`, 'source=sv', 'path=/sv']);
  inside('main', 'mkdir /sv/p1 && echo one > /sv/p1/hello && ln -s /etc /sv/abs && ln -s p1 /sv/rel');
  await ok(t, d, ['init', 'busybox', 'sub']);
  await ok(t, d, ['config', 'device', 'add', 'sub', 'p1', 'disk', `pool=${pool}`, 'source=sv/p1', 'path=/p1']);
  await ok(t, d, ['config', 'device', 'add', 'sub', 'file', 'disk', `pool=${pool}`, 'source=sv/p1/hello', 'path=/hello']);
  await ok(t, d, ['config', 'device', 'add', 'sub', 'rel', 'disk', `pool=${pool}`, 'source=sv/rel', 'path=/rel']);
  await ok(t, d, ['config', 'device', 'add', 'sub', 'new', 'disk', `pool=${pool}`, 'source=sv/a/b', 'path=/new', 'initial.uid=123', 'initial.gid=456', 'initial.mode=0750']);
  await ok(t, d, ['start', 'sub']);
  t.equal(inside('sub', 'cat /p1/hello'), 'one', 'a directory sub-path');
  t.equal(inside('sub', 'cat /hello'), 'one', 'a file sub-path');
  t.equal(inside('sub', 'cat /rel/hello'), 'one', 'a relative symlink is followed within the volume');
  t.equal(inside('sub', 'stat -c "%u %g %a" /new'), '123 456 750', 'a missing sub-path is made with initial.*');
  t.equal(inside('main', 'stat -c "%u %g %a" /sv/a'), '123 456 750', 'each directory made along the way too');
  await ok(t, d, ['stop', '-f', 'sub']);
  await ok(t, d, ['config', 'device', 'add', 'sub', 'abs', 'disk', `pool=${pool}`, 'source=sv/abs', 'path=/abs']);
  const esc = await d.cli(['start', 'sub']);
  t.not(esc.code, 0, 'an absolute symlink does not leave the volume');
  t.match(esc.stderr, /resolves outside of the volume/, esc.stderr);
  await ok(t, d, ['delete', '-f', 'sub']);
  const hot = await d.cli(['config', 'device', 'add', 'main', 'hot', 'disk', `pool=${pool}`, 'source=sv/rel', 'path=/hot']);
  t.equal(hot.code, 0, `a sub-path hot-plugged ${hot.stderr}`);
  t.equal(inside('main', 'cat /hot/hello'), 'one');

  // tmpfs.
  await ok(t, d, ['config', 'device', 'add', 'main', 'tmp', 'disk', 'source=tmpfs:', 'path=/mnt/tmp', 'initial.mode=0701', 'size=16MiB']);
  t.equal(inside('main', 'stat -f -c %T /mnt/tmp'), 'tmpfs', 'tmpfs hot-plugged');
  t.equal(inside('main', 'stat -c "%u %a" /mnt/tmp'), '0 701', 'owned by the container\'s root, initial.mode applied');
  await ok(t, d, ['restart', '-f', 'main']);
  t.equal(inside('main', 'stat -f -c %T /mnt/tmp'), 'tmpfs', 'tmpfs at start');
  t.equal(inside('main', 'stat -c "%u %a" /mnt/tmp'), '0 701');

  // A host block device (an ext4 loop device).
  const dir = mkdtempSync(join(tmpdir(), 'incus-disk-block-'));
  const img = join(dir, 'fs.img');
  let loop = '';
  t.teardown(() => {
    if (loop) sh(['losetup', '-d', loop]);
    rmSync(dir, { recursive: true, force: true });
  });
  t.equal(sh(['truncate', '-s', '32M', img]).code, 0);
  t.equal(sh(['mkfs.ext4', '-q', img]).code, 0);
  loop = sh(['losetup', '-f', '--show', img]).out.trim();
  t.match(loop, /^\/dev\/loop\d+$/, 'a loop device');
  await ok(t, d, ['launch', 'busybox', 'blk', '-c', 'security.privileged=true']);
  await ok(t, d, ['config', 'device', 'add', 'blk', 'fs', 'disk', `source=${loop}`, 'path=/mnt']);
  t.equal(inside('blk', 'test -d /mnt/lost+found && touch /mnt/made && echo yes'), 'yes', 'the filesystem is mounted, writable');
  await ok(t, d, ['config', 'device', 'remove', 'blk', 'fs']);
  await ok(t, d, ['stop', '-f', 'blk']);
  await ok(t, d, ['config', 'device', 'add', 'blk', 'fs', 'disk', `source=${loop}`, 'path=/mnt', 'raw.mount.options=ro,noatime']);
  await ok(t, d, ['start', 'blk']);
  t.equal(inside('blk', 'test -e /mnt/made && echo yes'), 'yes', 'mounted at start');
  t.not(lxcAttach(d.dir, 'blk', ['touch', '/mnt/again']).code, 0, 'raw.mount.options ro applied');
  t.equal(sh(['findmnt', '-n', '-S', loop]).out.trim(), '', 'no host-side mount left behind');
  await ok(t, d, ['delete', '-f', 'blk', 'main']);
  await ok(t, d, ['storage', 'volume', 'delete', pool, 'sv']);
});
