/**
 * Resolves a path inside a container's rootfs the way the container would
 * see it: `..` and symlinks (absolute ones included) never leave the root.
 * Used for work on a stopped container's files (image templates).
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_LINKS = 40;

export function resolveInRoot(root: string, path: string): string {
  const todo = path.split('/').filter((p) => p !== '' && p !== '.');
  let cur: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift() as string;
    if (part === '..') {
      cur.pop();
      continue;
    }
    const here = join(root, ...cur, part);
    let isLink = false;
    try {
      isLink = lstatSync(here).isSymbolicLink();
    } catch {
      // A missing component resolves to itself (it may be created).
    }
    if (!isLink) {
      cur.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`Too many levels of symbolic links in "${path}"`), { code: 'ELOOP' });
    const target = readlinkSync(here);
    if (target.startsWith('/')) cur = [];
    todo.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return join(root, ...cur);
}
