/**
 * The one way a path is built from names: each name must be a single path
 * component and the result must lie strictly inside the parent. Storage
 * drivers, pools, instance links and logs, networks and backups build
 * every path they create or delete through this, so that a name validator
 * that lets something through still cannot reach outside (a pool named
 * "..", a volume named ".").
 */
import { basename, dirname, resolve, sep } from 'node:path';
import { StatusError } from '../errors';

/** Why name cannot be one path component, or null when it can. */
export function pathComponentProblem(name: string): string | null {
  if (typeof name !== 'string' || name === '') return 'empty name';
  if (name === '.' || name === '..') return `"${name}" is not allowed`;
  if (name.includes('/')) return 'contains "/"';
  if (name.includes('\0')) return 'contains a NUL byte';
  return null;
}

/**
 * parent/names[0]/names[1]/...: throws a 400 naming the bad component when
 * a name is empty, ".", "..", or holds "/" or NUL, or when the result is
 * not strictly below parent.
 */
export function childPath(parent: string, ...names: string[]): string {
  if (names.length === 0) throw new StatusError(400, 'Invalid name: empty name');
  for (const n of names) {
    const why = pathComponentProblem(n);
    if (why) throw new StatusError(400, `Invalid name ${JSON.stringify(String(n))}: ${why}`);
  }
  const base = resolve(parent);
  const out = resolve(base, ...names);
  if (!out.startsWith(base === sep ? sep : base + sep) || out === base) {
    throw new StatusError(400, `Invalid name ${JSON.stringify(names.join('/'))}: outside ${base}`);
  }
  return out;
}

/**
 * A directory path built elsewhere, checked before it is removed: absolute,
 * no "." or ".." component anywhere and not the root, so that `rm -rf` of
 * it cannot climb out of where it was built.
 */
export function ownDir(path: string): string {
  const parts = path.split('/').filter((x) => x !== '');
  if (!path.startsWith('/') || parts.length === 0 || parts.some((x) => x === '.' || x === '..') || path.includes('\0')) {
    throw new StatusError(400, `Invalid path ${JSON.stringify(path)}`);
  }
  return childPath(dirname(resolve(path)), basename(resolve(path)));
}
