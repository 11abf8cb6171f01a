/**
 * Writing products files: one entry per image build, laid out as Incus's
 * `incus-simplestreams add` lays them out (product `os:release:variant:arch`,
 * version named by creation time, unified items `incus_combined.tar.gz`,
 * split items `incus.tar.xz` carrying the combined hash of each root file).
 */
import type { Products, ProductVersionItem, Stream } from './types';
import { SPLIT_META_FTYPE, UNIFIED_FTYPE } from './types';

/** A file in the tree: where it is (relative to the base URL) and what it hashes to. */
export interface StreamFile {
  path: string;
  sha256: string;
  size: number;
}

/** One image build to list. */
export interface StreamEntry {
  productName: string;
  aliases: string[];
  os: string;
  release: string;
  variant: string;
  /** Architecture as the image's properties spell it (e.g. `x86_64` or `amd64`). */
  arch: string;
  /** Version name: at least `YYYYMMDD`, usually `YYYYMMDDhhmm`. */
  versionName: string;
  meta: StreamFile;
  /** Split images: the root file, its type, and sha256(meta || root). */
  root?: StreamFile & { ftype: 'squashfs' | 'root.tar.xz'; combinedSha256: string };
  /** Unified images: what they hold. */
  combinedType?: 'container' | 'virtual-machine';
}

/** An empty products file as `incus-simplestreams` starts one. */
export function emptyProducts(): Products {
  return { content_id: 'images', datatype: 'image-downloads', format: 'products:1.0', products: {} };
}

/** `YYYYMMDDhhmm` (UTC) of a Unix time: the version name of a build. */
export function versionNameOf(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}`;
}

/**
 * Adds a build to `products` (creating its product on first use).
 * @throws Error when that version already has a root file of the same type.
 */
export function addEntry(products: Products, e: StreamEntry): void {
  const product = (products.products[e.productName] ??= {
    aliases: e.aliases.join(','),
    arch: e.arch,
    os: e.os,
    release: e.release,
    release_title: e.release,
    variant: e.variant,
    versions: {},
  });
  const version = (product.versions[e.versionName] ??= { items: {} });
  if (!e.root) {
    version.items[UNIFIED_FTYPE] = { ftype: UNIFIED_FTYPE, sha256: e.meta.sha256, size: e.meta.size, path: e.meta.path, combined_type: e.combinedType ?? 'container' };
    return;
  }
  if (version.items[e.root.ftype]) throw new Error(`Already have a "${e.root.ftype}" file for this image`);
  const meta: ProductVersionItem = version.items[SPLIT_META_FTYPE] ?? { ftype: SPLIT_META_FTYPE, sha256: e.meta.sha256, size: e.meta.size, path: e.meta.path };
  if (e.root.ftype === 'squashfs') meta.combined_squashfs_sha256 = e.root.combinedSha256;
  else meta.combined_rootxz_sha256 = e.root.combinedSha256;
  version.items[SPLIT_META_FTYPE] = meta;
  version.items[e.root.ftype] = { ftype: e.root.ftype, sha256: e.root.sha256, size: e.root.size, path: e.root.path };
}

/** Drops every build whose fingerprint is `fingerprint` (and products left empty); returns whether one was found. */
export function removeFingerprint(products: Products, fingerprint: string): boolean {
  let found = false;
  for (const [pname, product] of Object.entries(products.products)) {
    for (const [vname, version] of Object.entries(product.versions)) {
      const items = version.items;
      const meta = items[SPLIT_META_FTYPE];
      if (items[UNIFIED_FTYPE]?.sha256 === fingerprint) {
        delete items[UNIFIED_FTYPE];
        found = true;
      }
      if (meta && meta.combined_squashfs_sha256 === fingerprint) {
        delete items.squashfs;
        delete meta.combined_squashfs_sha256;
        found = true;
      }
      if (meta && (meta.combined_rootxz_sha256 === fingerprint || meta.combined_sha256 === fingerprint)) {
        delete items['root.tar.xz'];
        delete meta.combined_rootxz_sha256;
        delete meta.combined_sha256;
        found = true;
      }
      if (meta && !items.squashfs && !items['root.tar.xz'] && !items['disk-kvm.img']) delete items[SPLIT_META_FTYPE];
      if (Object.keys(items).length === 0) delete product.versions[vname];
    }
    if (Object.keys(product.versions).length === 0) delete products.products[pname];
  }
  return found;
}

/** The index pointing at one products file, as `incus-simplestreams` writes it. */
export function indexFor(products: Products, productsPath = 'streams/v1/images.json'): Stream {
  return {
    format: 'index:1.0',
    index: {
      images: { datatype: 'image-downloads', path: productsPath, format: 'products:1.0', products: Object.keys(products.products).sort() },
    },
  };
}
