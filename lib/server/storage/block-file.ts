/**
 * Raw block files for VM root disks and custom block volumes on the
 * file-backed drivers (dir, btrfs): a sparse `root.img` inside the volume's
 * directory, as Incus lays them out (drivers/utils.go ensureVolumeBlockFile,
 * storage/utils.go ImageUnpack). See qemu-img(1), truncate(2).
 */
import { spawn } from 'node:child_process';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest } from '../errors';
import { run } from '../images/run';
import { unpackImage } from '../images/unpack';
import { isQcow2File, unifiedImageType } from '../images/image-type';
import type { ContentType, VolumeOptions, VolumeType } from './interface';

/** The block file's name inside a volume's directory. */
export const BLOCK_FILE = 'root.img';

/** Incus's default size of a VM root disk or custom block volume (DefaultBlockSize). */
export const DEFAULT_BLOCK_BYTES = 10 * 1024 ** 3;

/** Incus rounds block sizes up to this boundary so that QEMU sees whole sectors (MinBlockBoundary). */
const BLOCK_BOUNDARY = 8192;

/** Incus's error for a shrink (ErrCannotBeShrunk wrapped by ensureVolumeBlockFile). */
export const SHRINK_MESSAGE = 'Block volumes cannot be shrunk: Cannot be shrunk';

/** bytes rounded up to the block boundary. */
export function roundBlockBytes(bytes: number): number {
  return Math.ceil(bytes / BLOCK_BOUNDARY) * BLOCK_BOUNDARY;
}

/**
 * The content type a new volume gets: a VM volume always holds a block
 * file (beside its small config filesystem), a container never, a custom
 * or image one when asked (an image volume is block when made from a VM image).
 */
export function contentTypeOf(type: VolumeType, opts?: VolumeOptions): ContentType {
  if (type === 'virtual-machine') return 'block';
  if (type === 'container') return 'filesystem';
  return opts?.contentType ?? 'filesystem';
}

/**
 * How a custom volume's content type is stored: an ISO volume (read-only
 * ISO 9660 image, Incus's content type "iso") is a disk file like a block one.
 */
export function storedContentType(contentType: string): ContentType {
  return contentType === 'filesystem' ? 'filesystem' : 'block';
}

/** A new sparse file of `bytes` (rounded); fails when the file exists. */
export async function createSparseFile(path: string, bytes: number): Promise<void> {
  if (!(bytes > 0)) throw badRequest('Size cannot be zero');
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.truncate(roundBlockBytes(bytes));
  } finally {
    await fh.close();
  }
}

/**
 * Grows a block file to `bytes` (rounded up): never shrinks (400 with
 * Incus's words); the same size is a no-op. Returns whether it grew.
 */
export async function growBlockFile(path: string, bytes: number): Promise<boolean> {
  if (!(bytes > 0)) throw badRequest('Size cannot be zero');
  const want = roundBlockBytes(bytes);
  const have = (await stat(path)).size;
  if (want === have) return false;
  if (want < have) throw badRequest(SHRINK_MESSAGE);
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(want);
  } finally {
    await fh.close();
  }
  return true;
}

/**
 * After a VM disk grew: moves the GPT backup header to the new end of the
 * disk (`sgdisk --move-second-header`), as Incus does, so the guest finds
 * it where GPT says it is. A disk without a GPT (no "EFI PART" at LBA 1;
 * sgdisk exiting 3 or 2) and a host without sgdisk are left alone:
 * resizing its partitions is the guest's business.
 */
export async function moveGptAltHeader(path: string): Promise<void> {
  // sgdisk would write a fresh GPT on a blank disk: only a disk with a GPT header at LBA 1 is touched.
  const fh = await open(path, 'r');
  const sig = Buffer.alloc(8);
  try {
    await fh.read(sig, 0, 8, 512);
  } finally {
    await fh.close();
  }
  if (sig.toString('latin1') !== 'EFI PART') return;
  return new Promise((resolve, reject) => {
    const child = spawn('sgdisk', ['--move-second-header', path], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve() : reject(e)));
    child.on('close', (code) => {
      if (code === 0 || code === 2 || code === 3) resolve();
      else reject(new Error(`Failed moving the GPT backup header of ${path}: ${err.trim() || `sgdisk exit ${code}`}`));
    });
  });
}

export { isQcow2File };

/** The virtual size in bytes of a qcow2 image (qemu-img info), refusing anything that is not qcow2. */
export async function qcow2VirtualSize(path: string): Promise<number> {
  const text = (await run('qemu-img', ['info', '-f', 'qcow2', '--output=json', path], { stdout: true })).toString();
  const info = JSON.parse(text) as { format?: string; 'virtual-size'?: number };
  if (info.format !== 'qcow2') throw badRequest(`Unexpected image format "${info.format}"`);
  return Number(info['virtual-size']);
}

/**
 * Fills a volume directory from a VM image: the metadata tarball unpacked
 * into the directory (metadata.yaml, templates/), the qcow2 disk (the split
 * image's rootfs file, or a unified tarball's `rootfs.img` member)
 * converted to a raw `root.img`. Returns the image's virtual size.
 */
export async function unpackVmImage(dir: string, imageFile: string, rootfsFile?: string): Promise<number> {
  await unpackImage(imageFile, dir);
  const member = join(dir, 'rootfs.img');
  const src = rootfsFile ?? member;
  try {
    const virtualSize = await qcow2VirtualSize(src);
    const dst = join(dir, BLOCK_FILE);
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', '-t', 'writeback', src, dst]);
    // qemu-img writes the exact virtual size; round it as every other block file is.
    await growBlockFile(dst, virtualSize);
    return virtualSize;
  } finally {
    if (!rootfsFile) await rm(member, { force: true });
  }
}

/**
 * Clones a block file (reflink where the filesystem can, holes kept):
 * `cp --reflink=auto --sparse=always`.
 */
export async function copyBlockFile(src: string, dst: string): Promise<void> {
  await run('cp', ['--reflink=auto', '--sparse=always', src, dst]);
}

/**
 * The size a VM or custom block volume made from an image gets: `size`
 * when given (400 when the image is larger, as Incus's
 * ConfigSizeFromSource), else the default, never below the image.
 */
export function sizeFromImage(imageBytes: number, size: number | undefined): number {
  if (size === undefined) return Math.max(DEFAULT_BLOCK_BYTES, imageBytes);
  if (roundBlockBytes(size) < imageBytes) throw badRequest(`Source image size (${imageBytes}) exceeds specified volume size (${roundBlockBytes(size)})`);
  return size;
}

/** Bytes of the volume's block file, null when it has none. */
export async function blockFileSize(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

/** Incus's words when a non-VM image is used for a VM volume or the reverse. */
function typeMismatch(want: string, got: string): Error {
  return badRequest(`Requested image's type "${got}" doesn't match instance type "${want}"`);
}

/**
 * Fills a fresh volume directory from an image. A split VM image (qcow2
 * rootfs) becomes metadata + `root.img`, then (not for image volumes)
 * grown to opts.size; anything else is unpacked as a filesystem.
 * `beforeBlock` runs before the disk is written (btrfs: nodatacow).
 */
export async function fillFromImage(
  dir: string,
  type: VolumeType,
  imageFile: string,
  rootfsFile: string | undefined,
  opts: VolumeOptions | undefined,
  beforeBlock?: () => Promise<void>,
): Promise<ContentType> {
  const vm = rootfsFile ? await isQcow2File(rootfsFile) : (await unifiedImageType(imageFile)) === 'virtual-machine';
  if (vm) {
    if (type === 'container') throw typeMismatch('container', 'virtual-machine');
    await beforeBlock?.();
    const imageBytes = await unpackVmImage(dir, imageFile, rootfsFile);
    if (type !== 'image') {
      const disk = join(dir, BLOCK_FILE);
      const grew = await growBlockFile(disk, sizeFromImage(roundBlockBytes(imageBytes), opts?.size));
      if (grew && type === 'virtual-machine') await moveGptAltHeader(disk);
    }
    return 'block';
  }
  if (type === 'virtual-machine') throw typeMismatch('virtual-machine', 'container');
  await unpackImage(imageFile, dir, rootfsFile);
  return 'filesystem';
}

/**
 * After a clone: a VM disk cloned from an image volume grows to opts.size
 * (default 10 GiB; 400 when the image is larger); any other block disk to
 * opts.size when given. Image volumes keep their size.
 */
export async function growAfterClone(dir: string, srcType: VolumeType, type: VolumeType, opts: VolumeOptions | undefined): Promise<void> {
  const disk = join(dir, BLOCK_FILE);
  const have = await blockFileSize(disk);
  if (have === null || type === 'image') return;
  let grew = false;
  if (srcType === 'image') grew = await growBlockFile(disk, sizeFromImage(have, opts?.size));
  else if (opts?.size !== undefined) grew = await growBlockFile(disk, opts.size);
  if (grew && type === 'virtual-machine') await moveGptAltHeader(disk);
}

/** Grows a volume's block file for a resize; a VM disk gets its GPT backup header moved to the new end. */
export async function resizeBlockFile(path: string, type: VolumeType, bytes: number): Promise<void> {
  if ((await growBlockFile(path, bytes)) && type === 'virtual-machine') await moveGptAltHeader(path);
}
