/**
 * Image tarball handling with GNU tar, which detects gzip/xz/zstd/bzip2 by
 * content on extraction: unpacking into a volume and reading metadata.yaml.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './run';
import { isSquashfsFile } from './squashfs-magic';

const TAR_KEEP = ['--numeric-owner', '--xattrs', '--xattrs-include=*', '--same-permissions'];

/**
 * Extracts an image into dir, keeping owners and xattrs: a unified tarball
 * (metadata.yaml, rootfs/, templates/), or a split image whose metadata
 * tarball lands in dir and whose rootfs (tarball or squashfs) in dir/rootfs.
 */
export async function unpackImage(file: string, dir: string, rootfsFile?: string): Promise<void> {
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
