/** Image formats (unified in several compressions, split with squashfs), publish and export. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { busyboxImage } from './lib/image';
import { lxcAttach } from './lib/attach';
import { rawRequest } from './lib/http';

const sha = (...files: string[]): string => {
  const h = createHash('sha256');
  for (const f of files) h.update(readFileSync(f));
  return h.digest('hex');
};
const sh = (cmd: string, args: string[]): void => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
};
const haveSquashfs = spawnSync('mksquashfs', ['-version']).status === 0;

t.test('unified images in zstd, bzip2 and no compression', async (t) => {
  const d = await withDaemon(t);
  const src = join(d.dir, 'src');
  mkdirSync(src);
  sh('tar', ['-xf', await busyboxImage(), '-C', src]);
  for (const [name, flag] of [['zst', '--zstd'], ['bz2', '-j'], ['tar', '']] as const) {
    const out = join(d.dir, `img.${name}`);
    sh('tar', ['-c', ...(flag ? [flag] : []), '-f', out, '--numeric-owner', '-C', src, '.']);
    const r = await d.cli(['image', 'import', out, '--alias', `bb-${name}`]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, sha(out), `${name}: fingerprint is the sha256 of the file`);
    const l = await d.cli(['launch', `bb-${name}`, `u-${name}`]);
    t.equal(l.code, 0, l.stderr);
    t.equal(lxcAttach(d.dir, `u-${name}`, ['hostname']).out.trim(), `u-${name}`, 'the hostname template rendered');
    t.equal((await d.cli(['delete', '-f', `u-${name}`])).code, 0);
  }
});

t.test('split image: metadata tarball + squashfs rootfs', { skip: haveSquashfs ? false : 'squashfs-tools is not installed' }, async (t) => {
  const d = await withDaemon(t);
  const src = join(d.dir, 'src');
  mkdirSync(src);
  sh('tar', ['-xf', await busyboxImage(), '-C', src]);
  const meta = join(d.dir, 'meta.tar.xz');
  const root = join(d.dir, 'root.squashfs');
  sh('tar', ['-cJf', meta, '-C', src, 'metadata.yaml', 'templates']);
  sh('mksquashfs', [join(src, 'rootfs'), root, '-noappend', '-quiet', '-all-root']);
  const up = spawnSync('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '-H', 'X-Incus-aliases: split', '-F', `metadata=@${meta}`, '-F', `rootfs=@${root}`, 'http://incus/1.0/images'], { encoding: 'utf8' });
  const op = JSON.parse(up.stdout) as { operation: string; type: string };
  t.equal(op.type, 'async', up.stdout);
  const img = (await d.client.getImages(1)).find((i) => typeof i !== 'string' && i.aliases.some((a) => a.name === 'split'));
  t.ok(img, 'split image listed with its alias');
  const fp = typeof img === 'string' ? '' : (img?.fingerprint ?? '');
  t.equal(fp, sha(meta, root), 'fingerprint is sha256(metadata || rootfs)');
  t.ok(existsSync(join(d.dir, 'images', `${fp}.rootfs`)));
  const l = await d.cli(['launch', 'split', 's1']);
  t.equal(l.code, 0, l.stderr);
  t.equal(lxcAttach(d.dir, 's1', ['cat', '/etc/hostname']).out.trim(), 's1');
  const exp = spawnSync('curl', ['-s', '-D', '-', '-o', join(d.dir, 'export.bin'), '--unix-socket', d.socket, `http://incus/1.0/images/${fp}/export`], { encoding: 'utf8' });
  t.match(exp.stdout, /multipart\/form-data; boundary=/i, 'a split image exports as multipart');
  t.ok(readFileSync(join(d.dir, 'export.bin')).includes(readFileSync(meta)), 'the metadata part is intact');
  t.equal((await d.cli(['delete', '-f', 's1'])).code, 0);
  t.equal((await d.cli(['image', 'delete', 'split'])).code, 0);
  t.notOk(existsSync(join(d.dir, 'images', `${fp}.rootfs`)), 'both files removed');
});

t.test('publish a stopped instance and launch from it', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'src1'])).code, 0);
  lxcAttach(d.dir, 'src1', ['sh', '-c', 'echo published > /root/marker']);
  const running = await rawRequest(d.socket, 'POST', '/1.0/images', JSON.stringify({ source: { type: 'instance', name: 'src1' } }));
  t.equal(running.status, 400, 'a running instance is refused');
  t.equal((await d.cli(['stop', '-f', 'src1'])).code, 0);
  const r = await rawRequest(d.socket, 'POST', '/1.0/images', JSON.stringify({
    source: { type: 'instance', name: 'src1' },
    aliases: [{ name: 'mine', description: 'published' }],
    properties: { description: 'from src1' },
    compression_algorithm: 'xz',
  }));
  t.equal(r.status, 202, JSON.stringify(r.body));
  const opUrl = String((r.body as { operation: string }).operation);
  const done = await rawRequest(d.socket, 'GET', `${opUrl}/wait?timeout=60`);
  const md = (done.body as { metadata: { status: string; err: string; metadata: { fingerprint: string } } }).metadata;
  t.equal(md.status, 'Success', md.err);
  const img = await d.client.getImage(md.metadata.fingerprint);
  t.equal(img.properties.description, 'from src1');
  t.equal((await d.cli(['launch', 'mine', 'copy1'])).code, 0);
  t.equal(lxcAttach(d.dir, 'copy1', ['cat', '/root/marker']).out.trim(), 'published');
  t.equal(lxcAttach(d.dir, 'copy1', ['hostname']).out.trim(), 'copy1', 'templates travel with the image');
  for (const n of ['src1', 'copy1']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});

t.test('publish from a snapshot; exports are byte-identical; split with a tarball rootfs', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'snapsrc'])).code, 0);
  lxcAttach(d.dir, 'snapsrc', ['sh', '-c', 'echo in-snapshot > /root/marker']);
  t.equal((await d.cli(['snapshot', 'create', 'snapsrc', 'snap0'])).code, 0);
  lxcAttach(d.dir, 'snapsrc', ['sh', '-c', 'echo after > /root/marker']);
  const r = await rawRequest(d.socket, 'POST', '/1.0/images', JSON.stringify({ source: { type: 'snapshot', name: 'snapsrc/snap0' }, aliases: [{ name: 'fromsnap' }] }));
  t.equal(r.status, 202, JSON.stringify(r.body));
  const done = await rawRequest(d.socket, 'GET', `${String(r.body.operation)}/wait?timeout=60`);
  t.equal((done.body.metadata as { status: string; err: string }).status, 'Success', (done.body.metadata as { err: string }).err);
  t.equal((await d.cli(['launch', 'fromsnap', 'fromsnap1'])).code, 0);
  t.equal(lxcAttach(d.dir, 'fromsnap1', ['cat', '/root/marker']).out.trim(), 'in-snapshot', 'the image holds the snapshot, not the live rootfs');

  const unified = await busyboxImage();
  const fp = sha(unified);
  const out = join(d.dir, 'export.tar.xz');
  const exp = spawnSync('curl', ['-s', '-o', out, '--unix-socket', d.socket, `http://incus/1.0/images/${fp}/export`]);
  t.equal(exp.status, 0);
  t.equal(sha(out), fp, 'a unified export is byte-identical');

  const src = join(d.dir, 'src');
  mkdirSync(src);
  sh('tar', ['-xf', unified, '-C', src]);
  const meta = join(d.dir, 'meta.tar.gz');
  const root = join(d.dir, 'root.tar.gz');
  sh('tar', ['-czf', meta, '-C', src, 'metadata.yaml', 'templates']);
  sh('tar', ['-czf', root, '--numeric-owner', '-C', join(src, 'rootfs'), '.']);
  const up = spawnSync('curl', ['-s', '--unix-socket', d.socket, '-X', 'POST', '-H', 'X-Incus-aliases: splittar', '-F', `metadata=@${meta}`, '-F', `rootfs=@${root}`, 'http://incus/1.0/images'], { encoding: 'utf8' });
  t.equal((JSON.parse(up.stdout) as { type: string }).type, 'async', up.stdout);
  const sfp = sha(meta, root);
  t.equal((await d.client.getImage(sfp)).fingerprint, sfp, 'split tarball fingerprint is sha256(metadata || rootfs)');
  t.equal((await d.cli(['launch', 'splittar', 'st1'])).code, 0);
  t.equal(lxcAttach(d.dir, 'st1', ['hostname']).out.trim(), 'st1');
  const body = spawnSync('curl', ['-s', '--unix-socket', d.socket, `http://incus/1.0/images/${sfp}/export`], { maxBuffer: 64 * 1024 * 1024 }).stdout;
  t.ok(body.includes(readFileSync(meta)) && body.includes(readFileSync(root)), 'both parts come back byte-identical');
  for (const n of ['snapsrc', 'fromsnap1', 'st1']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});
