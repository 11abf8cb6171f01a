/**
 * Image tarball handling with GNU tar, which detects gzip/xz/zstd/bzip2 by
 * content on extraction: unpacking into a volume and reading metadata.yaml.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run';
import { isSquashfsFile } from './squashfs-magic';
import { isQcow2File } from './image-type';

const TAR_KEEP = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--same-permissions'];

/**
 * Extracts an image into dir, keeping owners and xattrs: a unified tarball
 * (metadata.yaml, rootfs/, templates/), or a split image whose metadata
 * tarball lands in dir and whose rootfs (tarball or squashfs) in dir/rootfs.
 */
export async function unpackImage(file: string, dir: string, rootfsFile?: string): Promise<void> {
  // A VM disk is no rootfs tree: its volume is a block volume, made by the storage driver.
  if (rootfsFile && (await isQcow2File(rootfsFile))) throw new Error('A virtual-machine image (qcow2 disk) cannot be unpacked as a container rootfs');
  await run('tar', ['-xf', file, '-C', dir, ...TAR_KEEP]);
  if (!rootfsFile) return;
  const rootfs = join(dir, 'rootfs');
  await mkdir(rootfs, { recursive: true, mode: 0o755 });
  if (await isSquashfsFile(rootfsFile)) await run('unsquashfs', ['-f', '-n', '-d', rootfs, rootfsFile]);
  else await run('tar', ['-xf', rootfsFile, '-C', rootfs, ...TAR_KEEP]);
}

/** The text of metadata.yaml inside an image tarball. */
export async function readImageMetadata(file: string): Promise<string> {
  for (const name of ['metadata.yaml', './metadata.yaml']) {
    try {
      const out = await run('tar', ['-xOf', file, name], { stdout: true });
      if (out.length > 0) return out.toString('utf8');
    } catch {
      // Try the next spelling of the member name.
    }
  }
  throw new Error('Image tarball has no metadata.yaml');
}
