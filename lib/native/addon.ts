/**
 * Loads the native addon (incus_native.node) and locates the incusd-helper
 * executable, both built by binding.gyp into build/Release. The only module
 * that requires the .node file.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NativeBinding } from './binding';

/** The repository root: the nearest ancestor holding binding.gyp (dist/lib/native or lib/native). */
function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return join(__dirname, '..', '..', '..');
    dir = parent;
  }
}

let cached: NativeBinding | undefined;

/** The addon, loaded on first use so that importing lib/native never needs a build. */
export function binding(): NativeBinding {
  if (!cached) {
    const load = require('node-gyp-build') as (dir: string) => NativeBinding;
    cached = load(repoRoot());
  }
  return cached;
}

/** Absolute path of the incusd-helper executable (build/Release/incusd-helper). */
export function helperPath(): string {
  return join(repoRoot(), 'build', 'Release', 'incusd-helper');
}

/** Absolute path of the static guest agent (build/Release/incus-agent), copied into VMs' config shares. */
export function agentBinaryPath(): string {
  return join(repoRoot(), 'build', 'Release', 'incus-agent');
}
