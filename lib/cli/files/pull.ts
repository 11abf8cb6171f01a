/**
 * `incus file pull`: files, symlinks and directory trees (-r) out of an
 * instance into a local path or stdout, with Incus's rules for targets and
 * the -P/-H/-L symlink flags.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkDerefFlags, type CopyFlags } from './flags';
import { isStdout, normalizePath } from './paths';
import type { RemoteFs, RemoteStat } from './remote-fs';

/** `file pull` flags. */
export interface PullFlags extends CopyFlags {
  createDirs?: boolean;
}

/** One source: which instance, and the path as typed. */
export interface PullSource {
  remote: RemoteFs;
  path: string;
}

/** What statSource chose: the stat to act on, and whether the path itself is a symlink being followed. */
interface Source {
  st: RemoteStat;
  path: string;
  viaLink: boolean;
}

/** Incus's pullable.statFile. */
async function statSource(remote: RemoteFs, typed: string, f: PullFlags): Promise<Source> {
  const { path: p } = normalizePath(typed);
  const lst = await remote.stat(p, false);
  if (!lst) throw new Error(`stat ${p}: file does not exist`);
  const isLink = lst.type === 'symlink';
  let st: RemoteStat | null = lst;
  let linkErr: Error | null = null;
  if (isLink) {
    st = await remote.stat(p, true).catch((e: Error) => {
      linkErr = e;
      return null;
    });
    if (!st && !linkErr) linkErr = new Error(`stat ${p}: file does not exist`);
  }
  const dirRequested = typed.endsWith('/');
  if (st) {
    if (dirRequested && st.type !== 'directory') throw new Error(`${p} is not a directory`);
    if (st.type === 'directory' && !f.recursive && (!isLink || !f.noDereference)) {
      throw new Error('--recursive/-r is required when pulling directories');
    }
  }
  if (f.dereference || (!f.recursive && !f.noDereference) || (isLink && f.follow) || dirRequested) {
    if (!st) throw linkErr ?? new Error(`stat ${p}: file does not exist`);
    return { st, path: p, viaLink: isLink };
  }
  return { st: lst, path: p, viaLink: false };
}

/** Copies a remote file's bytes into a new local file with the remote mode. */
async function pullFile(remote: RemoteFs, src: string, viaLink: boolean, target: string, mode: number): Promise<void> {
  const input = await remote.readFile(src, viaLink);
  const out = fs.createWriteStream(target, { highWaterMark: 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  }).catch((err: Error) => {
    input.destroy();
    throw err;
  });
  fs.chmodSync(target, mode & 0o7777);
  await pipeline(input, out);
}

/**
 * Incus's sftpRecursivePullFile. `typed` is the path as given (its last
 * element names the copy: "bar/." copies bar's content, as cp does),
 * `source` the cleaned path that is read.
 */
async function pullTree(
  remote: RemoteFs,
  st: RemoteStat,
  typed: string,
  source: string,
  viaLink: boolean,
  targetDir: string,
  deref: boolean,
  createRoot: boolean,
): Promise<void> {
  let target = targetDir;
  if (createRoot) {
    let root = path.posix.basename(typed);
    if (root === '.' || root === '..') root = '';
    target = path.join(targetDir, root);
  }
  switch (st.type) {
    case 'directory': {
      try {
        fs.mkdirSync(target, { mode: st.mode & 0o7777 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.statSync(target).isDirectory()) throw err;
      }
      for (const e of await remote.readdir(source)) {
        const next = path.posix.join(source, e.name);
        let nextSt = e.stat;
        let nextViaLink = false;
        if (deref && e.stat.type === 'symlink') {
          const followed = await remote.stat(next, true);
          if (!followed) throw new Error(`stat ${next}: file does not exist`);
          nextSt = followed;
          nextViaLink = true;
        }
        await pullTree(remote, nextSt, next, next, nextViaLink, target, deref, true);
      }
      return;
    }
    case 'file':
      return pullFile(remote, source, viaLink, target, st.mode);
    case 'symlink':
      fs.symlinkSync(await remote.readlink(source), target);
      return;
    default:
      throw new Error(`Unknown file type '${st.type}'`);
  }
}

/**
 * Pulls each source into `target` (a directory, a file name, or "-" for
 * stdout). Failures of single sources are collected and thrown together.
 */
export async function pullFiles(sources: PullSource[], target: string, f: PullFlags, stdout: Writable): Promise<void> {
  checkDerefFlags(f);
  const flags: PullFlags = { ...f };
  // stdout as the target follows command-line symlinks unless -L; -P makes no sense there.
  if (isStdout(target) && !flags.dereference) {
    if (flags.noDereference) throw new Error('--no-dereference/-P cannot be used together with stdout as a target');
    flags.follow = true;
  }
  let targetIsDir = target.endsWith('/');
  const targetInfo = fs.existsSync(target) ? fs.statSync(target) : null;
  if (targetInfo) {
    targetIsDir = targetInfo.isDirectory();
    if (!targetIsDir && sources.length > 1) throw new Error('More than one file to download, but target is not a directory');
  } else if (targetIsDir || sources.length > 1) {
    fs.mkdirSync(target, { recursive: true, mode: 0o755 });
    targetIsDir = true;
  } else if (flags.createDirs) {
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
  }

  const errors: string[] = [];
  for (const s of sources) {
    try {
      const src = await statSource(s.remote, s.path, flags);
      if (src.st.type === 'directory') {
        await pullTree(s.remote, src.st, s.path, src.path, src.viaLink, target, flags.dereference === true, sources.length > 1 || fs.existsSync(target));
        continue;
      }
      const targetPath = targetIsDir ? path.join(target, path.posix.basename(src.path)) : target;
      if (isStdout(targetPath)) {
        const input = await s.remote.readFile(src.path, src.viaLink);
        await pipeline(input, stdout, { end: false });
      } else if (src.st.type === 'symlink') {
        fs.symlinkSync(await s.remote.readlink(src.path), targetPath);
      } else {
        await pullFile(s.remote, src.path, src.viaLink, targetPath, src.st.mode);
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
}
