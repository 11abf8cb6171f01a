/**
 * `incus file push`: local files, directory trees (-r), symlinks and stdin
 * into an instance, with Incus's rules for targets, ownership and modes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { RemoteFs } from './remote-fs';
import { checkDerefFlags, type CopyFlags } from './flags';
import { isStdin, normalizePath, parseModeFlag } from './paths';

/** `file push` flags (uid/gid -1 when not given). */
export interface PushFlags extends CopyFlags {
  uid: number;
  gid: number;
  mode?: string;
  createDirs?: boolean;
  /** `file edit`: leave an existing file's owner and mode alone. */
  noModeChange?: boolean;
}

/** Directory mode for the parents -p creates. */
const DIR_MODE = 0o755;

interface LocalSource {
  st: fs.Stats;
  /** The path to read or walk (a followed directory symlink resolved). */
  walkable: string;
}

/** Incus's pushable.statFile: the source's stat or lstat, by the -P/-H/-L rules. */
function statSource(src: string, f: CopyFlags): LocalSource {
  let abs = path.resolve(src);
  const lst = fs.lstatSync(abs);
  const isLink = lst.isSymbolicLink();
  let st: fs.Stats | null = lst;
  if (isLink) {
    try {
      st = fs.statSync(abs);
    } catch {
      st = null;
    }
  }
  if (st && st.isDirectory() && !f.recursive && (!isLink || !f.noDereference)) {
    throw new Error('--recursive/-r is required when pushing directories');
  }
  if (f.dereference || (!f.recursive && !f.noDereference) || (isLink && f.follow) || src.endsWith('/')) {
    if (!st) throw new Error(`lstat ${abs}: no such file or directory`);
    // The walk below needs a real directory to descend into.
    if (isLink && st.isDirectory()) {
      const t = fs.readlinkSync(abs);
      abs = path.isAbsolute(t) ? t : path.join(path.dirname(abs), t);
    }
    return { st, walkable: abs };
  }
  return { st: lst, walkable: abs };
}

/** Pushes one local entry (file, symlink or directory itself) to targetPath. */
async function pushEntry(remote: RemoteFs, local: string, st: fs.Stats, targetPath: string, uid: number, gid: number, mode: number, deref: boolean): Promise<void> {
  const om = { uid, gid, mode };
  if (st.isDirectory()) return remote.makeDirectory(targetPath, om);
  if (st.isSymbolicLink() && !deref) return remote.makeSymlink(targetPath, fs.readlinkSync(local));
  let fd: number;
  try {
    fd = fs.openSync(local, 'r');
  } catch (err) {
    throw new Error(`Failed to open source file ${JSON.stringify(local)}: ${(err as Error).message}`);
  }
  const size = fs.fstatSync(fd).size;
  const content = fs.createReadStream('', { fd, highWaterMark: 1024 * 1024 });
  try {
    await remote.writeFile(targetPath, content, size, om);
  } finally {
    content.destroy();
  }
}

/** Entries under dir in filepath.Walk's order: the root, then each name sorted, depth first. */
function* walk(dir: string): Generator<{ p: string; st: fs.Stats }> {
  const st = fs.lstatSync(dir);
  yield { p: dir, st };
  if (!st.isDirectory()) return;
  for (const name of fs.readdirSync(dir).sort()) yield* walk(path.join(dir, name));
}

/** Incus's sftpRecursivePushFile. */
async function pushTree(remote: RemoteFs, walkable: string, source: string, target: string, f: PushFlags, mode: number, createRoot: boolean): Promise<void> {
  let root = '';
  if (createRoot) {
    root = path.basename(source);
    if (root === '.' || root === '..') root = '';
  }
  let isRoot = true;
  for (const { p, st } of walk(walkable)) {
    if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink()) throw new Error(`'${p}' isn't a supported file type`);
    const targetPath = path.posix.join(target, root, p.slice(walkable.length).split(path.sep).join('/'));
    let m = st.mode & 0o777;
    if (isRoot) {
      isRoot = false;
      if (mode !== -1) m = mode;
    }
    await pushEntry(remote, p, st, targetPath, f.uid !== -1 ? f.uid : st.uid, f.gid !== -1 ? f.gid : st.gid, m, f.dereference === true);
  }
}

/**
 * Pushes srcFiles to `targetArg` (the path inside the instance). Failures
 * of single sources are collected and thrown together at the end.
 */
export async function pushFiles(remote: RemoteFs, srcFiles: string[], targetArg: string, f: PushFlags, stdin: Readable): Promise<void> {
  const { path: target, isDir } = normalizePath(targetArg);
  let targetIsDir = isDir;
  checkDerefFlags(f);

  const targetInfo = await remote.stat(target);
  const targetExists = targetInfo !== null;
  if (targetInfo) {
    if (targetInfo.type === 'directory') targetIsDir = true;
    else if (srcFiles.length > 1 || targetIsDir) throw new Error(`${target} is not a directory`);
  } else if (srcFiles.length > 1 && !f.createDirs) {
    throw new Error('Missing target directory');
  }
  const mode = f.mode !== undefined && f.mode !== '' ? parseModeFlag(f.mode) : -1;

  const errors: string[] = [];
  let canProcessStdin = srcFiles.length === 1;
  for (const src of srcFiles) {
    try {
      let uid = f.uid;
      let gid = f.gid;
      let m = mode;
      let local: LocalSource | null = null;
      if (isStdin(src)) {
        if (!canProcessStdin) throw new Error('stdin can only be used once, with no other source arguments');
        if (targetIsDir) throw new Error('A target file name must be specified when pushing from stdin; the target is a directory');
        canProcessStdin = false;
      } else {
        local = statSource(src, f);
        if (local.st.isDirectory()) {
          await pushTree(remote, local.walkable, src, target, f, mode, srcFiles.length > 1 || targetExists);
          continue;
        }
        if (m === -1) m = local.st.mode & 0o777;
        if (uid === -1) uid = local.st.uid;
        if (gid === -1) gid = local.st.gid;
      }
      const targetPath = targetIsDir ? path.posix.join(target, path.basename(src)) : target;
      if (f.createDirs) await remote.mkdirParents(path.posix.dirname(targetPath), DIR_MODE, uid, gid);
      if (f.noModeChange && (await remote.stat(targetPath)) !== null) {
        uid = -1;
        gid = -1;
        m = -1;
      }
      if (!local) {
        await remote.writeFile(targetPath, stdin, undefined, { uid, gid, mode: m });
      } else {
        await pushEntry(remote, local.walkable, local.st, targetPath, uid, gid, m, false);
      }
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
}
