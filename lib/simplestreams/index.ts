/**
 * Simplestreams, shared by the CLI (listing remote images), the daemon
 * (downloading from a stream, serving its public images as one) and the
 * tools that build static trees.
 */
export type { DownloadableFile, ImageFiles, Product, ProductVersion, ProductVersionItem, Products, Stream, StreamIndex } from './types';
export { SPLIT_META_FTYPE, UNIFIED_FTYPE } from './types';
export { applyAliases, productsToImages } from './products';
export type { StreamAlias } from './products';
export { SimpleStreamsClient, joinUrl } from './client';
export type { DownloadedImage } from './client';
export { NotFoundError, downloadFile, httpGet } from './download';
export type { DownloadOptions, ProgressHandler } from './download';
export { addEntry, emptyProducts, indexFor, removeFingerprint, versionNameOf } from './build';
export type { StreamEntry, StreamFile } from './build';
export { inspectImageFile, sha256File } from './image-file';
export type { ImageFileInfo } from './image-file';
export { addImageToTree, buildTreeFromDirectory, imageStem, listTree, removeImageFromTree } from './tree';
export type { AddImageOptions } from './tree';
export { canonicalArchitecture, hostArchitecture } from './arch';
