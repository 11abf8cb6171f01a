/**
 * Simplestreams documents (`streams/v1/index.json` and the products file it
 * points at), with field names exactly as Incus's image servers write them.
 */

/** `streams/v1/index.json`. */
export interface Stream {
  index: Record<string, StreamIndex>;
  updated?: string;
  format: string;
}

/** One entry of the index: a products file and the products it lists. */
export interface StreamIndex {
  datatype: string;
  path: string;
  updated?: string;
  products: string[];
  format?: string;
}

/** A products file (`streams/v1/images.json`). */
export interface Products {
  content_id: string;
  datatype: string;
  format: string;
  license?: string;
  products: Record<string, Product>;
  updated?: string;
}

/** One product: an OS release on one architecture, in several versions (builds). */
export interface Product {
  aliases: string;
  arch: string;
  os: string;
  requirements?: Record<string, string>;
  release: string;
  release_codename?: string;
  release_title: string;
  supported?: boolean;
  support_eol?: string;
  version?: string;
  versions: Record<string, ProductVersion>;
  variant?: string;
}

/** One build of a product; its items are the files. */
export interface ProductVersion {
  items: Record<string, ProductVersionItem>;
  label?: string;
  pubname?: string;
}

/** One downloadable file. Split images carry the combined hashes on the metadata item. */
export interface ProductVersionItem {
  'combined_disk1-img_sha256'?: string;
  'combined_disk-kvm-img_sha256'?: string;
  'combined_uefi1-img_sha256'?: string;
  combined_rootxz_sha256?: string;
  combined_sha256?: string;
  combined_squashfs_sha256?: string;
  combined_type?: string;
  ftype: string;
  md5?: string;
  path: string;
  sha256?: string;
  size: number;
  delta_base?: string;
}

/** A file to fetch for an image, as listed in the stream. */
export interface DownloadableFile {
  /** Path relative to the server's base URL. */
  path: string;
  sha256: string;
  size: number;
}

/** The files of one image: `meta` always, `root` for split images. */
export interface ImageFiles {
  meta: DownloadableFile;
  root?: DownloadableFile;
}

/** `ftype` of a unified image item. */
export const UNIFIED_FTYPE = 'incus_combined.tar.gz';
/** `ftype` of the metadata item of a split image. */
export const SPLIT_META_FTYPE = 'incus.tar.xz';
