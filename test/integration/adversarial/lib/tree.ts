/**
 * A snapshot of a directory tree (path, type, mode, size of files, mtime of
 * directories), and the difference between two, so the suite can say which
 * request added, destroyed or altered something on disk.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface Entry {
  type: 'dir' | 'file' | 'link' | 'other';
  mode: number;
  size: number;
  mtimeMs: number;
}

export type Tree = Map<string, Entry>;

/** Paths (relative to the root) the daemon legitimately rewrites while it runs. */
export type Ignore = (rel: string) => boolean;

export function snapshotTree(root: string, ignore: Ignore): Tree {
  const out: Tree = new Map();
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      const rel = relative(root, p);
      if (ignore(rel)) continue;
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : 'other';
      out.set(rel, { type, mode: st.mode & 0o7777, size: type === 'file' ? st.size : 0, mtimeMs: type === 'dir' ? st.mtimeMs : 0 });
      if (type === 'dir') walk(p);
    }
  };
  walk(root);
  return out;
}

export interface TreeDiff {
  added: string[];
  removed: string[];
  /** Mode, type or file size changes. */
  changed: string[];
  /** Directories whose mtime moved (a temporary file came and went): informative only. */
  touched: string[];
}

export function diffTrees(before: Tree, after: Tree): TreeDiff {
  const d: TreeDiff = { added: [], removed: [], changed: [], touched: [] };
  for (const [p, a] of after) {
    const b = before.get(p);
    if (!b) d.added.push(p);
    else if (a.type !== b.type || a.mode !== b.mode || a.size !== b.size) d.changed.push(`${p} (${describe(b)} -> ${describe(a)})`);
    else if (a.mtimeMs !== b.mtimeMs) d.touched.push(p);
  }
  for (const p of before.keys()) if (!after.has(p)) d.removed.push(p);
  return d;
}

function describe(e: Entry): string {
  return `${e.type} ${e.mode.toString(8)}${e.type === 'file' ? ` ${e.size}B` : ''}`;
}

/** Collapses a list of paths to their top-most members, for short messages. */
export function topmost(paths: string[], max = 8): string[] {
  const sorted = [...paths].sort();
  const out: string[] = [];
  for (const p of sorted) if (!out.some((o) => p.startsWith(`${o}/`))) out.push(p);
  return out.length > max ? [...out.slice(0, max), `... ${out.length - max} more`] : out;
}
