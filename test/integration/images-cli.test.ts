/** `incus image show|edit|export|alias rename` and `incus publish` against a real daemon. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { Image } from '../../lib/api/image';
import { lxcAttach } from './lib/attach';
import { withDaemon } from './lib/daemon';
import { busyboxImage } from './lib/image';

const sha = (...files: string[]): string => {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
};
const haveSquashfs = spawnSync('mksquashfs', ['-version']).status === 0;

t.test('image show, edit from stdin, alias rename', async (t) => {
  const d = await withDaemon(t);
  process.env.INCUS_CONF = join(d.dir, 'client-conf');
  const shown = parse((await d.cli(['image', 'show', 'busybox'])).stdout) as Image;
  t.equal(shown.fingerprint, sha(await busyboxImage()));
  t.same(shown.aliases, [{ name: 'busybox', description: '' }]);
  const edit = await d.cli(['image', 'edit', 'busybox'], 'auto_update: false\nproperties:\n  description: edited\n  os: busybox\npublic: true\nprofiles:\n- default\n');
  t.equal(edit.code, 0, edit.stderr);
  const after = await d.client.getImage(shown.fingerprint);
  t.equal(after.public, true);
  t.same(after.properties, { description: 'edited', os: 'busybox' }, 'edit replaces the writable fields');
  const bad = await d.cli(['image', 'edit', 'busybox'], 'public: [1]\n');
  t.not(bad.code, 0, 'YAML of the wrong shape is refused');
  t.equal((await d.cli(['image', 'alias', 'rename', 'busybox', 'bb'])).code, 0);
  t.same((await d.client.getImageAliases()).map((a) => a.name), ['bb']);
  t.match((await d.cli(['image', 'alias', 'rename', 'nope', 'x'])).stderr, /not found/i);
  const refresh = await d.cli(['image', 'refresh', 'bb']);
  t.not(refresh.code, 0, 'an uploaded image has no source to refresh from');
  t.match(refresh.stderr, /has no remote source to refresh from/);
});

t.test('image export gives back byte-identical files (unified and split)', { skip: haveSquashfs ? false : 'squashfs-tools is not installed' }, async (t) => {
  const d = await withDaemon(t);
  process.env.INCUS_CONF = join(d.dir, 'client-conf');
  const out = join(d.dir, 'out');
  mkdirSync(out);
  const img = await busyboxImage();
  const e1 = await d.cli(['image', 'export', 'busybox', out]);
  t.equal(e1.code, 0, e1.stderr);
  t.match(e1.stdout, 'Image exported successfully!');
  const files = readdirSync(out);
  t.same(files, [`${sha(img)}.tar.xz`], 'named after the fingerprint (as Incus does), not the uploaded file name');
  t.equal(sha(join(out, files[0] as string)), sha(img), 'unified export is the imported file');
  const e2 = await d.cli(['image', 'export', 'busybox', join(out, 'named')]);
  t.equal(e2.code, 0, e2.stderr);
  t.ok(readdirSync(out).includes('named.tar.xz'), 'a file target gets the extension of the server name');

  const stage = join(d.dir, 'stage');
  mkdirSync(stage);
  spawnSync('tar', ['-xf', img, '-C', stage]);
  const meta = join(d.dir, 'meta.tar.xz');
  const root = join(d.dir, 'root.squashfs');
  spawnSync('tar', ['-cJf', meta, '-C', stage, 'metadata.yaml', 'templates']);
  spawnSync('mksquashfs', [join(stage, 'rootfs'), root, '-noappend', '-quiet', '-all-root']);
  spawnSync('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '-H', 'X-Incus-aliases: split', '-F', `metadata=@${meta}`, '-F', `rootfs=@${root}`, 'http://incus/1.0/images']);
  const splitOut = join(d.dir, 'split-out');
  mkdirSync(splitOut);
  const fp = sha(meta, root);
  for (let i = 0; i < 50 && !(await d.client.getImages(0)).includes(fp); i++) await new Promise((r) => setTimeout(r, 100));
  const e3 = await d.cli(['image', 'export', 'split', splitOut]);
  t.equal(e3.code, 0, e3.stderr);
  const parts = readdirSync(splitOut).sort();
  t.equal(parts.length, 2, `two files: ${parts.join(', ')}`);
  const hashes = parts.map((p) => sha(join(splitOut, p))).sort();
  t.same(hashes, [sha(meta), sha(root)].sort(), 'metadata and rootfs come back byte-identical');
});

t.test('publish: running instance needs --force, properties and aliases, launch from the result', async (t) => {
  const d = await withDaemon(t);
  process.env.INCUS_CONF = join(d.dir, 'client-conf');
  t.equal((await d.cli(['launch', 'busybox', 'p1'])).code, 0);
  lxcAttach(d.dir, 'p1', ['sh', '-c', 'echo from-p1 > /root/marker']);
  const refused = await d.cli(['publish', 'p1', '--alias', 'pub']);
  t.not(refused.code, 0);
  t.match(refused.stderr, 'The instance is currently running. Use --force to have it stopped and restarted');
  const p = await d.cli(['publish', 'p1', '--alias', 'pub', '--force', '--compression', 'gzip --rsyncable', 'description=published p1']);
  t.equal(p.code, 0, p.stderr);
  const fp = /fingerprint: ([0-9a-f]{64})/.exec(p.stdout)?.[1] ?? '';
  t.ok(fp, p.stdout);
  t.equal((await d.client.getInstance('p1')).status, 'Running', 'restarted after the publish');
  const img = await d.client.getImage(fp);
  t.equal(img.properties.description, 'published p1');
  t.same(img.aliases.map((a) => a.name), ['pub']);
  const dup = await d.cli(['publish', 'p1', '--alias', 'pub', '--force']);
  t.match(dup.stderr, 'Aliases already exists: pub');
  t.equal((await d.cli(['launch', 'pub', 'p2'])).code, 0);
  t.equal(lxcAttach(d.dir, 'p2', ['cat', '/root/marker']).out.trim(), 'from-p1');
  t.equal(lxcAttach(d.dir, 'p2', ['hostname']).out.trim(), 'p2');
  // A snapshot is published as it is, while its instance runs, without --force.
  t.equal((await d.cli(['snapshot', 'create', 'p1', 'snap0'])).code, 0);
  const snap = await d.cli(['publish', 'p1/snap0', '--alias', 'pubsnap']);
  t.equal(snap.code, 0, `publish p1/snap0: ${snap.stderr}`);
  t.equal((await d.client.getImageAlias('pubsnap').catch(() => null))?.target, /fingerprint: ([0-9a-f]{64})/.exec(snap.stdout)?.[1], 'alias on the snapshot image');
  for (const n of ['p1', 'p2']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
  // A running ephemeral instance: stopped without being destroyed, flag restored, restarted.
  t.equal((await d.cli(['launch', 'busybox', 'e1', '--ephemeral'])).code, 0);
  const eph = await d.cli(['publish', 'e1', '--alias', 'pubeph', '--force']);
  t.equal(eph.code, 0, eph.stderr);
  const e1 = await d.client.getInstance('e1');
  t.same([e1.ephemeral, e1.status], [true, 'Running'], 'still ephemeral and running');
  t.equal((await d.cli(['stop', '-f', 'e1'])).code, 0);
  t.equal(await d.client.getInstance('e1').then(() => 'exists', () => 'gone'), 'gone', 'stopping it destroys it');
});

t.test('publish --format=split: two files, exported as FILE and FILE.root, imported back and launched', async (t) => {
  const d = await withDaemon(t);
  process.env.INCUS_CONF = join(d.dir, 'client-conf');
  t.equal((await d.cli(['init', 'busybox', 's1'])).code, 0);
  const bad = await d.cli(['publish', 's1', '--format', 'nope']);
  t.match(bad.stderr, 'Invalid image format');
  const p = await d.cli(['publish', 's1', '--alias', 'split', '--format=split']);
  t.equal(p.code, 0, p.stderr);
  const fp = /fingerprint: ([0-9a-f]{64})/.exec(p.stdout)?.[1] ?? '';
  const stored = join(d.dir, 'images', fp);
  t.equal(sha(stored, `${stored}.rootfs`), fp, 'fingerprinted over metadata then rootfs');
  const metaMembers = spawnSync('tar', ['-tf', stored], { encoding: 'utf8' }).stdout.split('\n');
  t.ok(metaMembers.includes('metadata.yaml') && !metaMembers.some((m) => m.startsWith('rootfs')), `metadata tarball: ${metaMembers.join(' ')}`);
  t.ok(spawnSync('tar', ['-tf', `${stored}.rootfs`], { encoding: 'utf8' }).stdout.split('\n').includes('./bin/busybox'), 'rootfs tarball holds the tree itself');
  t.equal((await d.client.getImage(fp)).size, statSync(stored).size + statSync(`${stored}.rootfs`).size, 'size of both files');

  const file = join(d.dir, 'split.file');
  t.equal((await d.cli(['image', 'export', 'split', file])).code, 0);
  t.same([sha(file), sha(`${file}.root`)], [sha(stored), sha(`${stored}.rootfs`)], 'FILE and FILE.root, no extension added');
  t.equal((await d.cli(['image', 'delete', 'split'])).code, 0);
  const imp = await d.cli(['image', 'import', file, `${file}.root`, '--alias', 'split']);
  t.equal(imp.code, 0, imp.stderr);
  t.match(imp.stdout, `Image imported with fingerprint: ${fp}`);
  t.equal((await d.cli(['launch', 'split', 's2'])).code, 0);
  t.equal(lxcAttach(d.dir, 's2', ['hostname']).out.trim(), 's2', 'an instance from the split image runs');
  t.equal((await d.cli(['delete', '-f', 's2'])).code, 0);
});
