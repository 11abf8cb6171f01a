/**
 * What kind of instance an image is for. Incus decides by the rootfs part's
 * name on upload ("rootfs.img" for a VM) and, for unified tarballs, by a
 * `rootfs.img` member; a qcow2 rootfs (magic "QFI\xfb") is a VM disk
 * whatever its part was called.
 */
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import type { ImageRecord } from '../db/images';
import { isQcow2File } from '../../image-formats/qcow2';

/** The instance type an image record carries. */
export type ImageType = ImageRecord['type'];

export { isQcow2File };

/** Type of a split image from its rootfs part's field name and content. */
export async function splitImageType(rootfsFile: string, field?: string): Promise<ImageType> {
  if (field === 'rootfs.img') return 'virtual-machine';
  return (await isQcow2File(rootfsFile)) ? 'virtual-machine' : 'container';
}

/** Which kind a member name of a unified tarball reveals, if any. */
export function memberType(name: string): ImageType | null {
  const n = name.replace(/^\.\//, '');
  if (n === 'rootfs.img') return 'virtual-machine';
  if (n === 'rootfs' || n === 'rootfs/' || n.startsWith('rootfs/')) return 'container';
  return null;
}

/**
 * Type of a unified tarball: lists its members with tar and stops at the
 * first that tells (`rootfs/...` or `rootfs.img`, which come early), so a
 * large container image is not read through twice. No rootfs member at
 * all reads as a container image, as before.
 */
export function unifiedImageType(file: string): Promise<ImageType> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-tf', file], { stdio: ['ignore', 'pipe', 'ignore'] });
    let found: ImageType | null = null;
    let rest = '';
    tar.stdout.setEncoding('utf8');
    tar.stdout.on('data', (chunk: string) => {
      if (found) return;
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        found = memberType(l);
        if (found) {
          tar.kill('SIGTERM');
          return;
        }
      }
    });
    tar.on('error', reject);
    tar.on('close', () => resolve(found ?? memberType(rest) ?? 'container'));
  });
}

/** File name extension Incus gives an image file on export, by its content. */
export async function imageFileExtension(file: string): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(264);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    const h = b.subarray(0, bytesRead);
    const starts = (...bytes: number[]): boolean => h.length >= bytes.length && bytes.every((x, i) => h[i] === x);
    if (starts(0x51, 0x46, 0x49, 0xfb)) return '.qcow2';
    if (starts(0x68, 0x73, 0x71, 0x73)) return '.squashfs';
    if (starts(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return '.tar.xz';
    if (starts(0x1f, 0x8b)) return '.tar.gz';
    if (starts(0x28, 0xb5, 0x2f, 0xfd)) return '.tar.zst';
    if (starts(0x42, 0x5a, 0x68)) return '.tar.bz2';
    if (h.length >= 262 && h.subarray(257, 262).toString('latin1') === 'ustar') return '.tar';
    return '';
  } finally {
    await fh.close();
  }
}
