/**
 * incus-simplestreams: a tree built with `add` from the busybox image,
 * served on 127.0.0.1, is added as a remote and launched from; `list`
 * shows the image; `verify` names a corrupted file; `remove` and `prune`
 * leave the tree consistent.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CliResult, ROOT, runNodeScript, withDaemon } from './lib/daemon';
import { busyboxImage } from './lib/image';
import { serveDirectory } from './lib/static-server';

const TOOL = join(ROOT, 'bin', 'incus-simplestreams');

function tool(cwd: string, args: string[], input = ''): Promise<CliResult> {
  return runNodeScript(TOOL, args, { cwd, input });
}

t.test('add, serve, remote add, launch; verify names a corrupted file', async (t) => {
  const tree = mkdtempSync(join(tmpdir(), 'incus-ss-tree-'));
  t.teardown(() => rmSync(tree, { recursive: true, force: true }));
  const img = await busyboxImage();

  const add = await tool(tree, ['add', img, '--alias', 'busybox']);
  t.equal(add.code, 0, add.stderr);
  t.ok(existsSync(join(tree, 'streams/v1/index.json')) && existsSync(join(tree, 'streams/v1/images.json')));
  const again = await tool(tree, ['add', img]);
  t.not(again.code, 0, 'the same image twice is refused');

  const list = JSON.parse((await tool(tree, ['list', '-f', 'json'])).stdout) as { fingerprint: string; properties: Record<string, string> }[];
  t.equal(list.length, 1);
  const fp = list[0]!.fingerprint;
  t.match((await tool(tree, ['list', '-f', 'csv'])).stdout, new RegExp(`^${fp},.*,busybox,`));
  t.equal((await tool(tree, ['verify'])).code, 0, 'a fresh tree verifies');

  const d = await withDaemon(t);
  process.env.INCUS_CONF = join(d.dir, 'client-conf');
  const srv = await serveDirectory(t, tree);
  const ra = await d.cli(['remote', 'add', 'ss', srv.url, '--protocol', 'simplestreams']);
  t.equal(ra.code, 0, ra.stderr);
  const l = await d.cli(['launch', 'ss:busybox', 'c1']);
  t.equal(l.code, 0, l.stderr);
  const st = (await d.client.getInstance('c1')) as { status: string; config: Record<string, string> };
  t.equal(st.status, 'Running');
  t.equal(st.config['volatile.base_image'], fp, 'launched from the tree image');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);

  // A split pair (metadata tarball + rootfs tarball) made from the same image.
  const stage = join(tree, '..', `${tree.split('/').pop()}-stage`);
  t.teardown(() => rmSync(stage, { recursive: true, force: true }));
  mkdirSync(stage);
  t.equal(spawnSync('tar', ['-xf', img, '-C', stage]).status, 0);
  t.equal(spawnSync('tar', ['-cJf', join(stage, 'meta.tar.xz'), '-C', stage, 'metadata.yaml', ...(existsSync(join(stage, 'templates')) ? ['templates'] : [])]).status, 0);
  t.equal(spawnSync('tar', ['-cJf', join(stage, 'root.tar.xz'), '-C', join(stage, 'rootfs'), '.']).status, 0);
  const split = await tool(tree, ['add', join(stage, 'meta.tar.xz'), join(stage, 'root.tar.xz'), '--alias', 'bbsplit', '--no-default-alias', '--product-name', 'bbsplit']);
  t.equal(split.code, 0, split.stderr);
  t.equal(readdirSync(join(tree, 'images')).length, 3, 'unified file plus the pair');
  t.equal((await tool(tree, ['verify'])).code, 0);
  const l2 = await d.cli(['launch', 'ss:bbsplit', 'c2']);
  t.equal(l2.code, 0, l2.stderr);
  t.equal(((await d.client.getInstance('c2')) as { status: string }).status, 'Running');
  t.equal((await d.cli(['delete', '-f', 'c2'])).code, 0);
  const splitFp = (JSON.parse((await tool(tree, ['list', '-f', 'json'])).stdout) as { fingerprint: string }[]).map((i) => i.fingerprint).find((f) => f !== fp)!;
  t.equal((await tool(tree, ['remove', splitFp])).code, 0);
  t.equal(readdirSync(join(tree, 'images')).length, 1, 'the pair is gone');

  // Same size, different bytes: only the hash can tell.
  const file = join('images', readdirSync(join(tree, 'images'))[0]!);
  const fd = openSync(join(tree, file), 'r+');
  writeSync(fd, Buffer.from('corrupted!'), 0, 10, 4096);
  closeSync(fd);
  const v = await tool(tree, ['verify']);
  t.equal(v.code, 1);
  t.match(v.stderr, `File "${file}" has a different SHA256 hash than listed in the index`);

  // -C works from elsewhere; a missing file is named too.
  rmSync(join(tree, file));
  const v2 = await tool(tmpdir(), ['-C', tree, 'verify']);
  t.equal(v2.code, 1);
  t.match(v2.stderr, `Missing image file "${file}"`);

  // prune drops the item whose file is gone, then the orphan junk.
  writeFileSync(join(tree, 'images', 'junk'), 'x');
  const dry = await tool(tree, ['prune', '--dry-run']);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, 'images/junk');
  t.ok(existsSync(join(tree, 'images', 'junk')), 'dry run deletes nothing');
  t.equal((await tool(tree, ['prune'])).code, 0);
  t.same(readdirSync(join(tree, 'images')), []);
  t.same(JSON.parse((await tool(tree, ['list', '-f', 'json'])).stdout), []);
});

t.test('remove by prefix deletes the files; generate-metadata makes an addable tarball', async (t) => {
  const tree = mkdtempSync(join(tmpdir(), 'incus-ss-tree-'));
  t.teardown(() => rmSync(tree, { recursive: true, force: true }));
  const add = await tool(tree, ['add', await busyboxImage()]);
  t.equal(add.code, 0, add.stderr);
  const [img] = JSON.parse((await tool(tree, ['list', '-f', 'json'])).stdout) as { fingerprint: string }[];
  const rm = await tool(tree, ['remove', img!.fingerprint.slice(0, 12)]);
  t.equal(rm.code, 0, rm.stderr);
  t.same(readdirSync(join(tree, 'images')), []);
  t.not((await tool(tree, ['remove', 'abc'])).code, 0, 'unknown fingerprint fails');

  const gm = await tool(tree, ['generate-metadata', 'meta.tar.xz'], 'testos\n1.0\n\nx86_64\n\n');
  t.equal(gm.code, 0, gm.stderr);
  t.match(gm.stdout, 'Operating system name: ');
  // A metadata-only tarball is not an image on its own.
  const bad = await tool(tree, ['add', join(tree, 'meta.tar.xz')]);
  t.not(bad.code, 0);
  t.match(bad.stderr, 'has no rootfs');
});
