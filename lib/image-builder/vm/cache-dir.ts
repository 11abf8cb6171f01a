/** Where the VM image builder keeps what it downloads and derives once per kernel. */

import os from 'node:os';
import path from 'node:path';

/**
 * The cache directory: `$INCUS_IMAGE_BUILDER_CACHE`, else
 * `$XDG_CACHE_HOME/incus-image-builder`, else `/var/cache/incus-image-builder`
 * for root and `~/.cache/incus-image-builder` for anyone else.
 */
export function builderCacheDir(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.INCUS_IMAGE_BUILDER_CACHE) return path.resolve(env.INCUS_IMAGE_BUILDER_CACHE);
  if (env.XDG_CACHE_HOME) return path.join(path.resolve(env.XDG_CACHE_HOME), 'incus-image-builder');
  if (uid === 0) return '/var/cache/incus-image-builder';
  return path.join(os.homedir(), '.cache', 'incus-image-builder');
}
