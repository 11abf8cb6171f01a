/** Temp trees for benchmarks, removed without ever crossing into a mount. */

import fs from 'node:fs/promises';
import path from 'node:path';
import { execTracked } from './exec';

/** Decodes the octal escapes (`\040`) of /proc/self/mountinfo paths. */
function unescapeMount(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8');
  const root = path.resolve(dir);
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = unescapeMount(f[4]);
    if (mp === root || mp.startsWith(`${root}/`)) found.push(mp);
  }
  return found.sort((a, b) => b.length - a.length);
}

/**
 * Lazily unmounts whatever is mounted below `dir`, then removes it with
 * `rm --one-file-system`, so a mount left by a crashed daemon is never
 * followed into the host's files.
 */
export async function removeTree(dir: string): Promise<void> {
  for (const mp of await mountsUnder(dir)) {
    await execTracked('umount', ['-l', mp], { allowFail: true });
  }
  await execTracked('rm', ['-rf', '--one-file-system', '--', dir]);
}
