/** `incus file create` and `incus file delete`. */
import type { InstanceFiles } from '../../client/files';
import { parseModeFlag, normalizePath } from './paths';
import type { RemoteFs } from './remote-fs';
import { cleanPath } from '../../api/paths';

/** `file create` flags (uid/gid -1 when not given). */
export interface CreateFlags {
  type: string;
  createDirs?: boolean;
  force?: boolean;
  uid: number;
  gid: number;
  mode?: string;
}

/** Mode of a new file / directory unless --mode. */
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/** Creates an empty file, a directory or a symlink (Incus's cmdFileCreate). */
export async function createFile(remote: RemoteFs, typedPath: string, linkTarget: string | undefined, f: CreateFlags): Promise<void> {
  const { path: target, isDir } = normalizePath(typedPath);
  let type = f.type;
  if (!['file', 'symlink', 'directory'].includes(type)) throw new Error(`Invalid type ${JSON.stringify(type)}`);
  let link = '';
  if (linkTarget !== undefined) {
    if (type !== 'symlink') throw new Error('Symlink target path can only be used for type "symlink"');
    link = linkTarget === '' ? '.' : cleanPath(linkTarget);
  }
  if (isDir) type = 'directory';
  const uid = Math.max(f.uid, 0);
  const gid = Math.max(f.gid, 0);
  let mode = type === 'directory' ? DIR_MODE : type === 'file' ? FILE_MODE : 0;
  if (f.mode !== undefined && f.mode !== '') mode = parseModeFlag(f.mode);
  if (f.createDirs) {
    const parent = target.slice(0, target.lastIndexOf('/')) || '/';
    await remote.mkdirParents(parent, null, uid, gid);
  }
  switch (type) {
    case 'symlink':
      return remote.makeSymlink(target, link);
    case 'directory':
      return remote.makeDirectory(target, { uid, gid, mode });
    default:
      return remote.writeFile(target, Buffer.alloc(0), 0, { uid, gid, mode });
  }
}

/** Deletes paths in instances; -f removes whole trees. Failures are reported together. */
export async function deleteFiles(files: InstanceFiles, targets: { instance: string; path: string }[], force: boolean): Promise<void> {
  const errors: string[] = [];
  for (const t of targets) {
    try {
      await files.delete(t.instance, normalizePath(t.path).path, { force });
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
}

