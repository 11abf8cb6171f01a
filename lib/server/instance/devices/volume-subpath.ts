/**
 * A custom volume's sub-path (`source=<volume>/<sub/path>` on a disk
 * device), opened beneath the volume as Incus does with openat2
 * (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): a component at a time, each
 * one opened O_PATH|O_NOFOLLOW relative to the descriptor of its parent
 * (through /proc/self/fd/<dir>/<name>), relative symlinks followed within
 * the volume, absolute ones and `..` above the volume refused. The volume
 * belongs to the container's root, which may swap a directory for a
 * symlink at any time: the mount uses the opened descriptor
 * (/proc/<pid>/fd/<fd>), never the path again. Missing directories are
 * made with the device's initial.uid/gid/mode, as Incus's
 * createVolumeSubPath. See open(2) (O_PATH), path_resolution(7), proc(5).
 */
import { constants } from 'node:fs';
import { type FileHandle, chmod, lchown, lstat, mkdir, open, readlink } from 'node:fs/promises';

/** O_PATH (Linux): a descriptor that only names a file; Node's constants lack it. */
const O_PATH = 0o10000000;
/** The kernel's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

export interface SubPathCreate {
  /** Host ids for directories made along the way. */
  uid: number;
  gid: number;
  mode: number;
}

export interface OpenedSubPath {
  /** A path that names the opened file for this process and its children. */
  path: string;
  isDir: boolean;
  close(): Promise<void>;
}

/** Splits a disk `source` into the volume name and the sub-path ("" for the whole volume), as Incus's SplitVolumeSource. */
export function splitVolumeSource(source: string): { volume: string; subPath: string } {
  const i = source.indexOf('/');
  return i < 0 ? { volume: source, subPath: '' } : { volume: source.slice(0, i), subPath: source.slice(i + 1) };
}

const openPath = (p: string): Promise<FileHandle> => open(p, O_PATH | constants.O_NOFOLLOW);

/** Opens `subPath` beneath the directory `root`, making missing directories when `create` is given. */
export async function openSubPath(root: string, subPath: string, create?: SubPathCreate): Promise<OpenedSubPath> {
  const stack: FileHandle[] = [await open(root, O_PATH | constants.O_DIRECTORY)];
  const closeAll = async (): Promise<void> => {
    for (const fh of stack.splice(0)) await fh.close().catch(() => undefined);
  };
  try {
    const todo = subPath.split('/');
    let links = 0;
    while (todo.length > 0) {
      const name = todo.shift()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (stack.length === 1) throw new Error(`Volume sub-path "${subPath}" resolves outside of the volume`);
        await stack.pop()!.close();
        continue;
      }
      const top = stack[stack.length - 1]!;
      if (!(await top.stat()).isDirectory()) throw new Error(`Failed opening volume sub-path "${subPath}": not a directory`);
      const here = `/proc/self/fd/${top.fd}/${name}`;
      let st = await lstat(here).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT' || !create) throw new Error(`Failed opening volume sub-path "${subPath}": ${err.code ?? err.message}`);
        return null;
      });
      if (!st) {
        await mkdir(here, create!.mode);
        // mkdir's mode passes through the umask; the asked mode is set as given.
        await chmod(here, create!.mode);
        await lchown(here, create!.uid, create!.gid);
        st = await lstat(here);
      }
      if (st.isSymbolicLink()) {
        const target = await readlink(here);
        if (target.startsWith('/')) throw new Error(`Volume sub-path "${subPath}" resolves outside of the volume`);
        if (++links > MAX_SYMLINKS) throw new Error(`Failed opening volume sub-path "${subPath}": too many levels of symbolic links`);
        todo.unshift(...target.split('/'));
        continue;
      }
      const fh = await openPath(here);
      stack.push(fh);
      // Swapped for a symlink between the lstat and the open: O_NOFOLLOW opened the link itself.
      if ((await fh.stat()).isSymbolicLink()) throw new Error(`Volume sub-path "${subPath}" changed while it was opened`);
    }
    const last = stack.pop()!;
    await closeAll();
    const isDir = (await last.stat()).isDirectory();
    return { path: `/proc/${process.pid}/fd/${last.fd}`, isDir, close: () => last.close() };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
