/** Simplestreams documents: reading products as Incus does, writing them, and static trees on disk. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addEntry, emptyProducts, indexFor, removeFingerprint, versionNameOf } from '../../lib/simplestreams/build';
import { applyAliases, productsToImages } from '../../lib/simplestreams/products';
import { addImageToTree, buildTreeFromDirectory, imageStem, listTree, removeImageFromTree } from '../../lib/simplestreams/tree';
import type { Products } from '../../lib/simplestreams/types';

const H = (c: string): string => c.repeat(64);

function sample(): Products {
  const p = emptyProducts();
  addEntry(p, {
    productName: 'debian:bookworm:default:amd64',
    aliases: ['debian/12', 'debian/bookworm'],
    os: 'debian',
    release: 'bookworm',
    variant: 'default',
    arch: 'amd64',
    versionName: '20240101_0000',
    meta: { path: 'images/old.incus.tar.xz', sha256: H('1'), size: 100 },
    root: { path: 'images/old.squashfs', sha256: H('2'), size: 1000, ftype: 'squashfs', combinedSha256: H('a') },
  });
  addEntry(p, {
    productName: 'debian:bookworm:default:amd64',
    aliases: [],
    os: 'debian',
    release: 'bookworm',
    variant: 'default',
    arch: 'amd64',
    versionName: '20240201_0000',
    meta: { path: 'images/new.incus.tar.xz', sha256: H('3'), size: 100 },
    root: { path: 'images/new.squashfs', sha256: H('4'), size: 2000, ftype: 'squashfs', combinedSha256: H('b') },
  });
  addEntry(p, {
    productName: 'debian:bookworm:default:amd64',
    aliases: [],
    os: 'debian',
    release: 'bookworm',
    variant: 'default',
    arch: 'amd64',
    versionName: '20240201_0000',
    meta: { path: 'images/new.incus.tar.xz', sha256: H('3'), size: 100 },
    root: { path: 'images/new.root.tar.xz', sha256: H('5'), size: 3000, ftype: 'root.tar.xz', combinedSha256: H('c') },
  });
  addEntry(p, {
    productName: 'debian:bookworm:default:arm64',
    aliases: ['debian/12'],
    os: 'debian',
    release: 'bookworm',
    variant: 'default',
    arch: 'arm64',
    versionName: '20240201_0000',
    meta: { path: 'images/arm.tar.gz', sha256: H('6'), size: 500 },
    combinedType: 'container',
  });
  return p;
}

t.test('products become images with Incus fingerprints, sizes and properties', async (t) => {
  const { images, files } = productsToImages(sample());
  t.equal(images.length, 4);
  const byFp = new Map(images.map((i) => [i.fingerprint, i]));
  t.same([...byFp.keys()].sort(), [H('6'), H('a'), H('b'), H('c')], 'split images by combined hash, unified by own hash');
  t.equal(byFp.get(H('b'))?.size, 2100, 'metadata plus root size');
  t.equal(byFp.get(H('b'))?.properties.type, 'squashfs');
  t.equal(byFp.get(H('c'))?.properties.type, 'root.tar.xz');
  t.equal(byFp.get(H('6'))?.properties.type, 'tar.gz');
  t.equal(byFp.get(H('6'))?.architecture, 'aarch64', 'Debian architecture names become Incus names');
  t.equal(byFp.get(H('b'))?.created_at, '2024-02-01T00:00:00Z', 'version name is the creation date');
  t.equal(byFp.get(H('b'))?.properties.description, 'debian bookworm amd64 (20240201_0000)', 'the default variant is not named');
  t.same(files.get(H('b')), {
    meta: { path: 'images/new.incus.tar.xz', sha256: H('3'), size: 100 },
    root: { path: 'images/new.squashfs', sha256: H('4'), size: 2000 },
  });
  t.same(files.get(H('6')), { meta: { path: 'images/arm.tar.gz', sha256: H('6'), size: 500 } });
});

t.test('aliases go to the newest build, squashfs first; short names only for the host architecture', async (t) => {
  const { images, aliases } = applyAliases(productsToImages(sample()).images, 'x86_64');
  const target = (name: string, arch?: string): string | undefined =>
    aliases.find((a) => a.name === name && (arch === undefined || a.architecture === arch))?.target;
  t.equal(target('debian/12', 'x86_64'), H('b'), 'newest serial, squashfs preferred over root.tar.xz');
  t.equal(target('debian/bookworm/amd64'), H('b'), 'medium alias with the architecture');
  t.equal(target('debian/12/arm64'), H('6'));
  t.equal(aliases[0]?.architecture, 'x86_64', 'host architecture listed first');
  const arm = images.find((i) => i.fingerprint === H('6'));
  t.same(arm?.aliases.map((a) => a.name), ['debian/12/arm64'], 'no short alias on a foreign architecture image');
  const old = images.find((i) => i.fingerprint === H('a'));
  t.same(old?.aliases, [], 'older build keeps no alias');
});

t.test('writing products: index, version names, removal', async (t) => {
  const p = sample();
  t.same(indexFor(p).index.images?.products, ['debian:bookworm:default:amd64', 'debian:bookworm:default:arm64']);
  t.equal(versionNameOf(1700000000), '202311142213');
  t.throws(
    () =>
      addEntry(p, {
        productName: 'debian:bookworm:default:amd64',
        aliases: [],
        os: 'debian',
        release: 'bookworm',
        variant: 'default',
        arch: 'amd64',
        versionName: '20240201_0000',
        meta: { path: 'x', sha256: H('3'), size: 1 },
        root: { path: 'y', sha256: H('9'), size: 1, ftype: 'squashfs', combinedSha256: H('d') },
      }),
    /Already have a "squashfs" file/,
  );
  t.ok(removeFingerprint(p, H('b')));
  t.notOk(productsToImages(p).images.some((i) => i.fingerprint === H('b')));
  t.ok(productsToImages(p).images.some((i) => i.fingerprint === H('c')), 'the other root of that build stays');
  t.ok(removeFingerprint(p, H('6')));
  t.notOk(p.products['debian:bookworm:default:arm64'], 'empty product dropped');
  t.notOk(removeFingerprint(p, H('f')));
});

t.test('stems pair split image files', async (t) => {
  t.equal(imageStem('/x/busybox.tar.xz'), 'busybox');
  t.equal(imageStem('bb.meta.tar.xz'), 'bb');
  t.equal(imageStem('bb.squashfs'), 'bb');
  t.equal(imageStem('bb.root.tar.gz'), 'bb');
  t.equal(imageStem('debian-12.incus.tar.xz'), 'debian-12');
});

const haveSquashfs = spawnSync('mksquashfs', ['-version']).status === 0;

t.test('a directory of image files becomes a tree; add and remove keep files in step', { skip: haveSquashfs ? false : 'squashfs-tools is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ss-tree-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stage = join(dir, 'stage');
  const src = join(dir, 'src');
  const tree = join(dir, 'tree');
  mkdirSync(join(stage, 'rootfs', 'etc'), { recursive: true });
  mkdirSync(src);
  writeFileSync(join(stage, 'rootfs', 'etc', 'hostname'), 'x\n');
  const md = (date: number): string =>
    `architecture: x86_64\ncreation_date: ${date}\nproperties:\n  os: testos\n  release: "1"\n  description: test\n`;
  writeFileSync(join(stage, 'metadata.yaml'), md(1700000000));
  const run = (cmd: string, args: string[]): void => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  };
  run('tar', ['-cJf', join(src, 'unified.tar.xz'), '-C', stage, 'metadata.yaml', 'rootfs']);
  run('tar', ['-cJf', join(src, 'split.meta.tar.xz'), '-C', stage, 'metadata.yaml']);
  run('mksquashfs', [join(stage, 'rootfs'), join(src, 'split.squashfs'), '-noappend', '-quiet', '-all-root']);
  writeFileSync(join(src, 'README'), 'not an image');
  const added = await buildTreeFromDirectory(src, tree);
  const sha = (...files: string[]): string => {
    const h = createHash('sha256');
    for (const f of files) h.update(readFileSync(f));
    return h.digest('hex');
  };
  t.same(
    added.map((a) => a.fingerprint).sort(),
    [sha(join(src, 'unified.tar.xz')), sha(join(src, 'split.meta.tar.xz'), join(src, 'split.squashfs'))].sort(),
  );
  const images = await listTree(tree, 'x86_64');
  t.equal(images.length, 2);
  const unified = images.find((i) => i.fingerprint === sha(join(src, 'unified.tar.xz')));
  t.ok(unified?.aliases.some((a) => a.name === 'unified'), 'the stem is an alias');
  const index = JSON.parse(readFileSync(join(tree, 'streams/v1/index.json'), 'utf8')) as { index: { images: { products: string[] } } };
  t.same(index.index.images.products, ['split', 'unified']);
  await t.rejects(addImageToTree(tree, join(src, 'unified.tar.xz')), /already in the tree/);

  writeFileSync(join(stage, 'metadata.yaml'), md(1700090000));
  run('tar', ['-cJf', join(src, 'unified2.tar.xz'), '-C', stage, 'metadata.yaml', 'rootfs']);
  const fp2 = await addImageToTree(tree, join(src, 'unified2.tar.xz'), undefined, { productName: 'unified' });
  const after = await listTree(tree, 'x86_64');
  t.equal(after.find((i) => i.aliases.some((a) => a.name === 'unified'))?.fingerprint, fp2, 'a new build takes the alias');
  t.ok(existsSync(join(tree, `images/${fp2}.incus_combined.tar.gz`)));

  await removeImageFromTree(tree, fp2);
  t.notOk(existsSync(join(tree, `images/${fp2}.incus_combined.tar.gz`)), 'its file is removed');
  t.equal((await listTree(tree, 'x86_64')).length, 2);
  await t.rejects(removeImageFromTree(tree, fp2), /isn't in the tree/);
  await t.rejects(addImageToTree(tree, join(src, 'split.meta.tar.xz')), /has no rootfs/);
});
