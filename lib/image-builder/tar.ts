/** Packs a staging directory into an image tarball with GNU tar. */

import { runTool } from './spawn';

/** Tarball compression; `none` writes a plain tar. */
export type Compression = 'xz' | 'gzip' | 'none';

/** The compressions the builder accepts, in preference order. */
export const COMPRESSIONS: readonly Compression[] = ['xz', 'gzip', 'none'];

/** File name suffix for each compression. */
export function tarballSuffix(c: Compression): string {
  switch (c) {
    case 'xz': return '.tar.xz';
    case 'gzip': return '.tar.gz';
    case 'none': return '.tar';
  }
}

/**
 * GNU tar arguments that pack `entries` of `dir` into `output`: sorted
 * names, every mtime set to `mtime`, and every entry owned by 0:0 by number
 * whoever runs the build, so equal inputs give byte-identical tarballs.
 */
export function tarArgs(dir: string, entries: readonly string[], output: string, compression: Compression, mtime: number): string[] {
  const flag = compression === 'xz' ? ['--xz'] : compression === 'gzip' ? ['--gzip'] : [];
  return [
    '--create', ...flag, '--file', output,
    '--format=gnu', '--sort=name', `--mtime=@${mtime}`,
    '--owner=0', '--group=0', '--numeric-owner', '--no-acls', '--no-xattrs',
    '-C', dir, '--', ...entries,
  ];
}

/**
 * Runs tar to create the tarball. xz is pinned to one thread: its
 * multi-threaded output depends on the core count and would break
 * reproducibility.
 */
export async function createTarball(dir: string, entries: readonly string[], output: string, compression: Compression, mtime: number): Promise<void> {
  await runTool('tar', tarArgs(dir, entries, output, compression, mtime), {
    env: { XZ_OPT: '-T1', LC_ALL: 'C' },
  });
}
