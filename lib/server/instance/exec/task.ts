/**
 * An exec without websockets: stdin is /dev/null and the output is either
 * dropped or, with `record-output`, written by the command straight into
 * `exec_<operation>.stdout` / `.stderr` in the instance's log directory
 * (where GET /1.0/instances/{name}/logs/{file} serves them). The operation
 * ends with `metadata.return` (and `metadata.output` when recorded).
 */
import { closeSync, constants as fsc, open } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OperationContext } from '../../operations/registry';
import { commandFailure } from './exit-status';
import type { ExecCommand, InstanceExec } from './instance-exec';

/** File names of the recorded output of operation `opId`. */
export function recordedOutputFiles(opId: string): { stdout: string; stderr: string } {
  return { stdout: `exec_${opId}.stdout`, stderr: `exec_${opId}.stderr` };
}

/** Opens a log file for the command to write (never through a symlink). */
function openOutput(dir: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(join(dir, name), fsc.O_RDWR | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600, (err, fd) => (err ? reject(err) : resolve(fd)));
  });
}

/** Runs the command to its end; returns the operation's final metadata. */
export async function runExecTask(
  target: InstanceExec,
  cmd: ExecCommand,
  recordOutput: boolean,
  ctx: OperationContext,
  onStarted?: () => void,
): Promise<Record<string, unknown>> {
  const md: Record<string, unknown> = {};
  const files: number[] = [];
  try {
    if (recordOutput) {
      // A symlink here could send the writes anywhere on the host.
      const st = await lstat(target.logDir);
      if (!st.isDirectory()) throw new Error("Exec output directory isn't a regular directory");
      const names = recordedOutputFiles(ctx.id);
      files.push(await openOutput(target.logDir, names.stdout));
      files.push(await openOutput(target.logDir, names.stderr));
      const base = `/1.0/instances/${target.instance}/logs`;
      md.output = { '1': `${base}/${names.stdout}`, '2': `${base}/${names.stderr}` };
    }
  } catch (err) {
    for (const fd of files) closeSync(fd);
    throw err;
  }
  // The files are handed over to the helper from here.
  const proc = await target.detached(cmd, files[0] ?? null, files[1] ?? null);
  const onAbort = (): void => proc.kill();
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await proc.started;
    onStarted?.();
    md.return = await proc.exited;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
  const failure = commandFailure(md.return as number);
  if (failure) {
    ctx.setMetadata(md);
    throw failure;
  }
  return md;
}
