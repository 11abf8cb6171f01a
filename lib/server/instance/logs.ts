/**
 * Per-instance log files under $INCUS_DIR/logs/<project_name>/: which names the
 * API exposes and which it lets clients delete (Incus's rules), and opening
 * them without following links or blocking on special files.
 */
import { constants } from 'node:fs';
import { type FileHandle, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, notFound, StatusError } from '../errors';
import { instanceDirName } from './dir-name';
import { childPath } from '../names';

/** Names Incus serves besides the migration_* and snapshot_* logs. */
const LOG_NAMES = new Set(['lxc.log', 'qemu.log', 'qemu.early.log', 'qemu.qmp.log']);

/** True for a bare file name the logs API serves (never a path, never lxc.conf or console.log). */
export function validLogFileName(name: string): boolean {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) return false;
  return LOG_NAMES.has(name) || name.startsWith('migration_') || name.startsWith('snapshot_');
}

/** Incus lets clients delete *.log files except the main lxc.log and qemu.log. */
export function deletableLogFileName(name: string): boolean {
  return name.endsWith('.log') && name !== 'lxc.log' && name !== 'qemu.log';
}

/** The log directory of an instance. */
export function instanceLogDir(varDir: string, project: string, name: string): string {
  return childPath(join(varDir, 'logs'), instanceDirName(project, name));
}

/** The servable log files present in dir, sorted; none when dir does not exist yet. */
export async function listLogFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return entries.filter(validLogFileName).sort();
}

/**
 * Opens dir/name for reading: 400 for a name the API does not serve, 404
 * when it is missing, 400 when it is not a regular file (a FIFO would block
 * the read, a link could lead anywhere).
 */
export async function openLogFile(dir: string, name: string): Promise<FileHandle> {
  if (!validLogFileName(name)) throw badRequest(`Log file name "${name}" not valid`);
  const fh = await openPlainFile(join(dir, name), constants.O_RDONLY);
  if (!fh) throw notFound(`Log file "${name}" not found`);
  return fh;
}

/** Deletes dir/name under Incus's rules (400 when the name may not be deleted, 404 when missing). */
export async function deleteLogFile(dir: string, name: string): Promise<void> {
  if (!validLogFileName(name)) throw badRequest(`Log file name "${name}" not valid`);
  if (!deletableLogFileName(name)) throw badRequest('Only log files excluding qemu.log and lxc.log may be deleted');
  try {
    await unlink(join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`Log file "${name}" not found`);
    throw err;
  }
}

/**
 * Opens path (O_NOFOLLOW, O_NONBLOCK) and checks it is a regular file; null
 * when it does not exist, a 400 when it is a link or a special file.
 */
export async function openPlainFile(path: string, flags: number): Promise<FileHandle | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP') throw new StatusError(400, 'Not a regular file');
    throw err;
  }
  try {
    if (!(await fh.stat()).isFile()) throw new StatusError(400, 'Not a regular file');
  } catch (err) {
    await fh.close();
    throw err;
  }
  return fh;
}
