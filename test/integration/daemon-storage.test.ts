/**
 * storage.backups_volume and storage.images_volume on a real daemon: the
 * refusals (missing pool or volume, bad syntax, block, snapshots, content),
 * the move of backups/ and images/ into custom volumes (symlinks to the
 * volumes' paths, same files), a volume in use refused deletion, rename and
 * snapshots, the links kept (and made again) across a restart, and unset
 * moving everything back into plain directories.
 */
import t, { type Test } from 'tap';
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

/** Every path under dir (followed through a symlinked dir), relative to it, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(relative(dir, join(d, e.name)));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(`${dir}/`);
  return out.sort();
}

async function ok(t: Test, d: TestDaemon, args: string[]): Promise<string> {
  const r = await d.cli(args);
  t.equal(r.code, 0, `incus ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function refused(t: Test, d: TestDaemon, args: string[], message: RegExp): Promise<void> {
  const r = await d.cli(args);
  t.not(r.code, 0, `incus ${args.join(' ')} refused`);
  t.match(r.stderr, message, `incus ${args.join(' ')}: ${r.stderr.trim()}`);
}

t.test('backups and images on custom volumes: set, refusals, restart, unset', async (t) => {
  const d = await withDaemon(t);
  const backups = join(d.dir, 'backups');
  const images = join(d.dir, 'images');
  const custom = join(d.dir, 'storage-pools', 'default', 'custom');

  await ok(t, d, ['init', 'busybox', 'c1']);
  await ok(t, d, ['query', '--wait', '-X', 'POST', '/1.0/instances/c1/backups', '-d', '{"name":"b0"}']);
  const backupsBefore = tree(backups);
  const imagesBefore = tree(images);
  t.ok(backupsBefore.some((p) => p.endsWith('b0')), 'a backup is on disk before the move');
  t.ok(imagesBefore.length > 0, 'an image is on disk before the move');

  for (const v of ['bk', 'im', 'full', 'snapped']) await ok(t, d, ['storage', 'volume', 'create', 'default', v]);
  await ok(t, d, ['storage', 'volume', 'create', 'default', 'blk', '--type=block', 'size=16MiB']);
  await ok(t, d, ['storage', 'volume', 'snapshot', 'create', 'default', 'snapped']);
  writeFileSync(join(custom, 'default_full', 'f'), 'x');

  const key = 'storage.backups_volume';
  await refused(t, d, ['config', 'set', key, 'foo/bar'], /Failed validation of "storage.backups_volume": Unable to load storage pool "foo": Storage pool not found/);
  await refused(t, d, ['config', 'set', key, 'default/bar'], /Failed loading storage volume "default\/bar" in "default" project: Storage volume not found/);
  await refused(t, d, ['config', 'set', key, 'default'], /Invalid syntax for volume, must be <pool>\/<volume>/);
  await refused(t, d, ['config', 'set', key, 'default/blk'], /Storage volume "default\/blk" in "default" project is not filesystem content type/);
  await refused(t, d, ['config', 'set', 'storage.images_volume', 'default/snapped'], /Failed validation of "storage.images_volume": Storage volumes for use by Incus itself cannot have snapshots/);
  await refused(t, d, ['config', 'set', key, 'default/full'], /Storage volume "default\/full" isn't empty/);
  t.equal(lstatSync(backups).isDirectory(), true, 'a refused value leaves backups/ a directory');
  t.equal((await ok(t, d, ['config', 'get', key])).trim(), '', 'a refused value is not saved');

  await ok(t, d, ['config', 'set', key, 'default/bk']);
  await ok(t, d, ['config', 'set', 'storage.images_volume', 'default/im']);
  t.equal(readlinkSync(backups), join(custom, 'default_bk'), 'backups/ links to the volume');
  t.equal(readlinkSync(images), join(custom, 'default_im'), 'images/ links to the volume');
  t.same(tree(backups), backupsBefore, 'backups content moved unchanged');
  t.same(tree(images), imagesBefore, 'images content moved unchanged');
  t.same(readdirSync(join(custom, 'default_im')).sort(), readdirSync(images).sort(), 'the files are in the volume');
  t.equal(lstatSync(join(custom, 'default_bk')).mode & 0o777, 0o700, 'the volume is root-only');

  const vol = await rawRequest(d.socket, 'GET', '/1.0/storage-pools/default/volumes/custom/bk');
  t.same((vol.body.metadata as { used_by: string[] }).used_by, ['/1.0#storage.backups_volume'], 'used by the server itself');
  await refused(t, d, ['storage', 'volume', 'delete', 'default', 'bk'], /The storage volume is still in use/);
  await refused(t, d, ['storage', 'volume', 'rename', 'default', 'im', 'im2'], /Volume is used by Incus itself and cannot be renamed/);
  await refused(t, d, ['storage', 'volume', 'snapshot', 'create', 'default', 'im'], /Volumes used by Incus itself cannot have snapshots/);

  // Still usable from the volume: a new instance from the image, a new backup.
  await ok(t, d, ['init', 'busybox', 'c2']);
  await ok(t, d, ['query', '--wait', '-X', 'POST', '/1.0/instances/c1/backups', '-d', '{"name":"b1"}']);
  t.ok(tree(join(custom, 'default_bk')).some((p) => p.endsWith('b1')), 'a new backup lands on the volume');

  // A restart keeps the links; one replaced by an empty directory while down is made again.
  await d.signal('SIGTERM');
  rmSync(images);
  mkdirSync(images);
  await d.start();
  t.equal(readlinkSync(backups), join(custom, 'default_bk'), 'backups/ still linked after a restart');
  t.equal(readlinkSync(images), join(custom, 'default_im'), 'images/ linked again at start');
  t.match(await ok(t, d, ['image', 'list', '-f', 'csv', '-c', 'l']), /busybox/, 'the image is still listed');
  await ok(t, d, ['init', 'busybox', 'c3']);

  await ok(t, d, ['config', 'unset', key]);
  await ok(t, d, ['config', 'unset', 'storage.images_volume']);
  t.ok(lstatSync(backups).isDirectory() && !lstatSync(backups).isSymbolicLink(), 'backups/ is a directory again');
  t.ok(lstatSync(images).isDirectory() && !lstatSync(images).isSymbolicLink(), 'images/ is a directory again');
  t.equal(lstatSync(images).mode & 0o777, 0o700, 'images/ is root-only');
  t.same(tree(images), imagesBefore, 'images content moved back');
  t.ok(tree(backups).some((p) => p.endsWith('b1')), 'backups moved back, the new one too');
  t.same(readdirSync(join(custom, 'default_bk')), [], 'the volume is empty again');
  await ok(t, d, ['storage', 'volume', 'delete', 'default', 'bk']);
  await ok(t, d, ['storage', 'volume', 'delete', 'default', 'im']);
  await ok(t, d, ['init', 'busybox', 'c4']);
});
