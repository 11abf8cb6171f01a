/**
 * Reading a products file as Incus does: each version of each product gives
 * one image per usable item (a unified tarball, or the metadata tarball
 * paired with each root file), fingerprinted by the item's own sha256 or by
 * the combined hash of the pair; aliases are then assigned, preferred
 * builds first.
 */
import type { Image, ImageAliasesEntry } from '../api/image';
import { canonicalArchitecture } from './arch';
import { type ImageFiles, type Product, type ProductVersionItem, type Products, SPLIT_META_FTYPE, UNIFIED_FTYPE } from './types';

/** Root file types of split images, and whether each is a VM disk. */
const ROOT_FTYPES: Record<string, boolean> = {
  'root.tar.xz': false,
  squashfs: false,
  'disk-kvm.img': true,
  'disk1.img': true,
  'uefi1.img': true,
};

/** Preference among root file types when one build offers several (lower wins). */
const TYPE_PREFERENCE = ['squashfs', 'root.tar.xz', 'disk-kvm.img', 'uefi1.img', 'disk1.img'];

/** Unix epoch as Incus writes "no expiry" for stream images. */
const EPOCH = '1970-01-01T00:00:00Z';

/** The combined hash a metadata item carries for a given root file type. */
function combinedHash(meta: ProductVersionItem, rootType: string): string | undefined {
  switch (rootType) {
    case 'root.tar.xz':
      return meta.combined_rootxz_sha256 || meta.combined_sha256;
    case 'squashfs':
      return meta.combined_squashfs_sha256;
    case 'disk-kvm.img':
      return meta['combined_disk-kvm-img_sha256'];
    case 'disk1.img':
      return meta['combined_disk1-img_sha256'];
    case 'uefi1.img':
      return meta['combined_uefi1-img_sha256'];
    default:
      return undefined;
  }
}

/** `20240131` (at least) from a version name, as a date; undefined when it is not one. */
function versionDate(name: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(name);
  if (!m) return undefined;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return undefined;
  return d.toISOString().replace('.000Z', 'Z');
}

function eolDate(text: string | undefined): string {
  if (!text) return EPOCH;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : EPOCH;
}

function imageOf(
  product: Product,
  arch: string,
  versionName: string,
  created: string,
  label: string | undefined,
  meta: ProductVersionItem,
  root: ProductVersionItem | undefined,
): { image: Image; files: ImageFiles } | undefined {
  const fingerprint = root ? combinedHash(meta, root.ftype) : meta.sha256;
  if (!fingerprint || !meta.path || !meta.sha256) return undefined;
  if (root && !root.sha256) return undefined;
  let description = `${product.os} ${product.release_title} ${product.arch}`;
  if (product.variant && product.variant !== 'default') description += ` (${product.variant})`;
  if (label) description += ` (${label})`;
  description += ` (${versionName})`;
  const properties: Record<string, string> = {
    os: product.os,
    release: product.release,
    version: product.version ?? '',
    architecture: product.arch,
    label: label ?? '',
    serial: versionName,
    description,
  };
  for (const [k, v] of Object.entries(product.requirements ?? {})) properties[`requirements.${k}`] = v;
  if (product.variant) properties.variant = product.variant;
  let type: Image['type'] = 'container';
  if (root) {
    properties.type = root.ftype;
    if (ROOT_FTYPES[root.ftype]) type = 'virtual-machine';
  } else {
    properties.type = 'tar.gz';
    if (meta.combined_type === 'virtual-machine') type = 'virtual-machine';
  }
  for (const [k, v] of Object.entries(properties)) if (v === '') delete properties[k];
  const aliases = product.aliases ? product.aliases.split(',').map((name) => ({ name: name.trim(), description: '' })) : [];
  const image: Image = {
    aliases: aliases.filter((a) => a.name !== ''),
    architecture: arch,
    auto_update: false,
    cached: false,
    created_at: created,
    expires_at: eolDate(product.support_eol),
    filename: meta.path.split('/').pop() ?? '',
    fingerprint,
    last_used_at: '0001-01-01T00:00:00Z',
    profiles: [],
    project: '',
    properties,
    public: true,
    size: meta.size + (root?.size ?? 0),
    type,
    uploaded_at: created,
  };
  const files: ImageFiles = { meta: { path: meta.path, sha256: meta.sha256, size: meta.size } };
  if (root) files.root = { path: root.path, sha256: root.sha256 as string, size: root.size };
  return { image, files };
}

/** Images of a products file, and the files of each (by fingerprint). Aliases are the products' raw ones. */
export function productsToImages(products: Products): { images: Image[]; files: Map<string, ImageFiles> } {
  const images: Image[] = [];
  const files = new Map<string, ImageFiles>();
  for (const product of Object.values(products.products ?? {})) {
    const arch = canonicalArchitecture(product.arch);
    if (!arch) continue;
    for (const [versionName, version] of Object.entries(product.versions ?? {})) {
      const created = versionDate(versionName);
      if (!created) continue;
      const items = Object.values(version.items ?? {});
      const add = (meta: ProductVersionItem, root?: ProductVersionItem): void => {
        const r = imageOf(product, arch, versionName, created, version.label, meta, root);
        if (!r) return;
        images.push(r.image);
        files.set(r.image.fingerprint, r.files);
      };
      for (const item of items) {
        if (item.ftype === UNIFIED_FTYPE) add(item);
        if (item.ftype === SPLIT_META_FTYPE) {
          for (const root of items) if (root.ftype in ROOT_FTYPES) add(item, root);
        }
      }
    }
  }
  return { images, files };
}

/** Newest build first within one OS/release/variant; preferred root type first within one build. */
function compareImages(a: Image, b: Image): number {
  for (const prop of ['os', 'release', 'variant', 'serial', 'architecture']) {
    const x = a.properties[prop] ?? '';
    const y = b.properties[prop] ?? '';
    if (x === y) continue;
    if (x === '') return 1;
    if (y === '') return -1;
    if (prop === 'serial') return x > y ? -1 : 1;
    return x < y ? -1 : 1;
  }
  const rank = (i: Image): number => {
    const n = TYPE_PREFERENCE.indexOf(i.properties.type ?? '');
    return n < 0 ? 0 : n;
  };
  return rank(a) - rank(b);
}

/** An alias of a stream, with the architecture of its image. */
export interface StreamAlias extends ImageAliasesEntry {
  architecture: string;
}

/**
 * Sorts the images and turns each product alias into aliases as Incus does:
 * the short name (listed on the image only for the host's architecture) and
 * `name/<arch>`; the first (preferred) image to claim a name keeps it.
 */
export function applyAliases(images: Image[], hostArch: string): { images: Image[]; aliases: StreamAlias[] } {
  const sorted = [...images].sort(compareImages);
  const aliases: StreamAlias[] = [];
  const claim = (img: Image, name: string): boolean => {
    if (aliases.some((a) => a.name === name && a.type === img.type && a.architecture === img.architecture)) return false;
    aliases.push({ name, description: '', target: img.fingerprint, type: img.type, architecture: img.architecture });
    return true;
  };
  const out = sorted.map((img) => {
    const own: Image['aliases'] = [];
    for (const a of img.aliases) {
      if (claim(img, a.name) && img.architecture === hostArch) own.push({ name: a.name, description: '' });
      const medium = `${a.name}/${img.properties.architecture ?? img.architecture}`;
      if (claim(img, medium)) own.push({ name: medium, description: '' });
    }
    return { ...img, aliases: own };
  });
  // Native architecture first, so a bare name picks the host's build.
  aliases.sort((a, b) => (a.architecture === b.architecture ? 0 : a.architecture === hostArch ? -1 : b.architecture === hostArch ? 1 : 0));
  return { images: out, aliases };
}
