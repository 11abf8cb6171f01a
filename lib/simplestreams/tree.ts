/**
 * A static simplestreams tree on disk (`streams/v1/index.json`,
 * `streams/v1/images.json`, `images/...`), as `incus-simplestreams` keeps
 * one: add an image (unified, or metadata plus squashfs/rootfs tarball),
 * remove one, list, or build a tree from a plain directory of image files.
 * Any static web server can then serve the tree.
 */
import { copyFile, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Image } from '../api/image';
import { hostArchitecture } from './arch';
import { type StreamEntry, addEntry, emptyProducts, indexFor, removeFingerprint, versionNameOf } from './build';
import { inspectImageFile, sha256File } from './image-file';
import { applyAliases, productsToImages } from './products';
import type { Products } from './types';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const PRODUCTS = 'streams/v1/images.json';
const INDEX = 'streams/v1/index.json';

export interface AddImageOptions {
  /** Extra aliases of the product. */
  aliases?: string[];
  /** Leave out the default `os/release/variant` alias. */
  noDefaultAlias?: boolean;
  /** Product name instead of `os:release:variant:arch`. */
  productName?: string;
}

async function readProducts(tree: string): Promise<Products> {
  try {
    return JSON.parse(await readFile(join(tree, PRODUCTS), 'utf8')) as Products;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyProducts();
    throw err;
  }
}

/** Writes both JSON files, each through a temporary file so a reader never sees half of one. */
async function writeProducts(tree: string, products: Products): Promise<void> {
  await mkdir(join(tree, 'streams', 'v1'), { recursive: true, mode: 0o755 });
  for (const [path, doc] of [[PRODUCTS, products], [INDEX, indexFor(products)]] as const) {
    const tmp = join(tree, `${path}.tmp`);
    await writeFile(tmp, JSON.stringify(doc), { mode: 0o644 });
    await rename(tmp, join(tree, path));
  }
}

async function combinedSha256(files: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const f of files) for await (const chunk of createReadStream(f)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Adds an image to the tree, copying its files under `images/`; resolves
 * with its fingerprint. metadata.yaml must give architecture and
 * creation_date, and the properties os and release (variant defaults to
 * `default`).
 */
export async function addImageToTree(tree: string, metaFile: string, rootFile?: string, opts: AddImageOptions = {}): Promise<string> {
  const info = await inspectImageFile(metaFile);
  const md = info.metadata;
  if (!md) throw new Error(`Couldn't find metadata.yaml in ${metaFile}`);
  if (!md.architecture) throw new Error('Invalid architecture in metadata.yaml: missing');
  if (!md.creation_date) throw new Error('Missing creation date in metadata.yaml');
  const props = md.properties ?? {};
  for (const p of ['os', 'release']) if (!props[p]) throw new Error(`Missing property "${p}" in metadata.yaml`);
  const variant = props.variant || 'default';
  const arch = props.architecture || md.architecture;
  const meta = await sha256File(metaFile);
  const entry: StreamEntry = {
    productName: opts.productName || `${props.os}:${props.release}:${variant}:${arch}`,
    aliases: [...(opts.noDefaultAlias ? [] : [`${props.os}/${props.release}/${variant}`]), ...(opts.aliases ?? [])],
    os: props.os as string,
    release: props.release as string,
    variant,
    arch,
    versionName: versionNameOf(md.creation_date),
    meta: { ...meta, path: '' },
  };
  let fingerprint = meta.sha256;
  const copies: [string, string][] = [];
  if (rootFile) {
    if (info.unified) throw new Error(`${metaFile} is a unified image: add it alone`);
    const rootInfo = await inspectImageFile(rootFile);
    const ftype = rootInfo.format === 'squashfs' ? 'squashfs' : 'root.tar.xz';
    const ext = ftype === 'squashfs' ? '.squashfs' : '.tar.xz';
    const root = await sha256File(rootFile);
    fingerprint = await combinedSha256([metaFile, rootFile]);
    entry.meta.path = `images/${meta.sha256}.incus.tar.xz`;
    entry.root = { ...root, path: `images/${meta.sha256}${ext}`, ftype, combinedSha256: fingerprint };
    copies.push([metaFile, entry.meta.path], [rootFile, entry.root.path]);
  } else {
    if (!info.unified) throw new Error(`${metaFile} has no rootfs: a split image needs its root file`);
    entry.meta.path = `images/${meta.sha256}.incus_combined.tar.gz`;
    entry.combinedType = info.vm ? 'virtual-machine' : 'container';
    copies.push([metaFile, entry.meta.path]);
  }
  const products = await readProducts(tree);
  if (productsToImages(products).images.some((i) => i.fingerprint === fingerprint)) {
    throw new Error(`Image ${fingerprint} is already in the tree`);
  }
  addEntry(products, entry);
  await mkdir(join(tree, 'images'), { recursive: true, mode: 0o755 });
  for (const [from, to] of copies) {
    const dest = join(tree, to);
    if (!(await stat(dest).then(() => true, () => false))) await copyFile(from, dest);
  }
  await writeProducts(tree, products);
  return fingerprint;
}

/** Removes an image (by full fingerprint) and the files nothing else uses. */
export async function removeImageFromTree(tree: string, fingerprint: string): Promise<void> {
  const products = await readProducts(tree);
  const before = new Set([...productsToImages(products).files.values()].flatMap((f) => [f.meta.path, f.root?.path ?? '']));
  if (!removeFingerprint(products, fingerprint)) throw new Error(`Image ${fingerprint} isn't in the tree`);
  const after = new Set([...productsToImages(products).files.values()].flatMap((f) => [f.meta.path, f.root?.path ?? '']));
  await writeProducts(tree, products);
  for (const p of before) if (p && !after.has(p)) await rm(join(tree, p), { force: true });
}

/** The images the tree lists, with their aliases as a client sees them. */
export async function listTree(tree: string, hostArch = hostArchitecture()): Promise<Image[]> {
  return applyAliases(productsToImages(await readProducts(tree)).images, hostArch).images;
}

/** Name without image suffixes: `busybox.meta.tar.xz` and `busybox.squashfs` share `busybox`. */
export function imageStem(file: string): string {
  return basename(file).replace(/(\.(meta|incus|root|rootfs))?(\.(tar|squashfs|tgz|txz|tbz2?|tzst)(\.\w+)?)?$/i, '');
}

/**
 * Builds (or extends) a tree from a directory of image files: each unified
 * tarball becomes an image; a metadata-only tarball is paired with the root
 * file (squashfs or rootfs tarball) of the same stem (see {@link imageStem}).
 * Each stem is a product with the stem as an extra alias (so every file set
 * keeps a name of its own; the default `os/release/variant` alias goes to
 * the newest build). Resolves with what was added.
 */
export async function buildTreeFromDirectory(src: string, tree: string): Promise<{ file: string; fingerprint: string }[]> {
  const metas: { file: string; unified: boolean }[] = [];
  const roots = new Map<string, string>();
  for (const name of (await readdir(src)).sort()) {
    const file = join(src, name);
    if (!(await stat(file)).isFile()) continue;
    let info;
    try {
      info = await inspectImageFile(file);
    } catch {
      continue;
    }
    if (info.metadata) metas.push({ file, unified: info.unified });
    else roots.set(imageStem(name), file);
  }
  const added: { file: string; fingerprint: string }[] = [];
  for (const m of metas) {
    const stem = imageStem(m.file);
    const root = m.unified ? undefined : roots.get(stem);
    if (!m.unified && !root) throw new Error(`No root file (squashfs or rootfs tarball) named like ${stem} for ${m.file}`);
    added.push({ file: m.file, fingerprint: await addImageToTree(tree, m.file, root, { aliases: [stem], productName: stem }) });
  }
  return added;
}
