/**
 * Image tarball handling with GNU tar, which detects gzip/xz/zstd/bzip2 by
 * content on extraction: unpacking into a volume and reading metadata.yaml.
 */
import { run } from './run';

/** Extracts a unified image (metadata.yaml, rootfs/, templates/) into dir, keeping owners and xattrs. */
export async function unpackImage(file: string, dir: string): Promise<void> {
  await run('tar', ['-xf', file, '-C', dir, '--numeric-owner', '--xattrs', '--xattrs-include=*', '--same-permissions']);
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
