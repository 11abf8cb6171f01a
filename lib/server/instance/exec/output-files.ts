/**
 * The recorded output of `record-output` execs: `exec_<operation>.stdout`
 * and `.stderr` in the `exec-output/` directory of the instance's volume
 * (Incus's `ExecOutputPath`), served under /1.0/instances/{name}/logs/exec-output.
 * The directory is refused when it is a symlink, and the files are opened
 * without following links, so neither can lead elsewhere on the host.
 */
import { constants } from 'node:fs';
import { type FileHandle, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest, notFound, StatusError } from '../../errors';
import { openPlainFile } from '../logs';

/** The exec output directory inside an instance's volume. */
export function execOutputDir(volumePath: string): string {
  return join(volumePath, 'exec-output');
}

/** File names of the recorded output of operation `opId`. */
export function recordedOutputFiles(opId: string): { stdout: string; stderr: string } {
  return { stdout: `exec_${opId}.stdout`, stderr: `exec_${opId}.stderr` };
}

/** True for a bare `exec_*.stdout` / `exec_*.stderr` name (Incus's validExecOutputFileName). */
export function validExecOutputFileName(name: string): boolean {
  if (name === '' || name.includes('/') || name.includes('\0')) return false;
  return name.startsWith('exec_') && (name.endsWith('.stdout') || name.endsWith('.stderr'));
}

/** Checks that dir is a real directory; false when it does not exist. */
async function checkDir(dir: string): Promise<boolean> {
  let st;
  try {
    st = await lstat(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (!st.isDirectory()) throw new StatusError(500, "Exec output directory isn't a regular directory");
  return true;
}

/** Creates the directory for a recording (if needed) and checks it is no symlink. */
export async function prepareExecOutputDir(dir: string): Promise<void> {
  // Only root reads it: the output may hold anything the command printed.
  await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  await checkDir(dir);
}

/** The recorded output files in dir, sorted (404 when nothing was ever recorded, as Incus). */
export async function listExecOutputFiles(dir: string): Promise<string[]> {
  if (!(await checkDir(dir))) throw notFound('Exec record-output directory not found');
  return (await readdir(dir)).filter(validExecOutputFileName).sort();
}

/** Opens dir/name for reading: 400 for a name that is no exec output, 404 when missing. */
export async function openExecOutputFile(dir: string, name: string): Promise<FileHandle> {
  if (!validExecOutputFileName(name)) throw badRequest(`Exec record-output file name "${name}" not valid`);
  const fh = (await checkDir(dir)) ? await openPlainFile(join(dir, name), constants.O_RDONLY) : null;
  if (!fh) throw notFound(`Exec record-output file "${name}" not found`);
  return fh;
}

/** Deletes dir/name: 400 for a name that is no exec output, 404 when missing. */
export async function deleteExecOutputFile(dir: string, name: string): Promise<void> {
  if (!validExecOutputFileName(name)) throw badRequest(`Exec record-output file name "${name}" not valid`);
  const missing = notFound(`Exec record-output file "${name}" not found`);
  if (!(await checkDir(dir))) throw missing;
  try {
    await unlink(join(dir, name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw missing;
    throw err;
  }
}
