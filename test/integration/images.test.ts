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
