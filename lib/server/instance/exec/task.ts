/**
 * An exec without websockets: stdin is /dev/null and the output is either
 * dropped or, with `record-output`, written by the command straight into
 * `exec_<operation>.stdout` / `.stderr` in the instance's exec output
 * directory (served under /1.0/instances/{name}/logs/exec-output). The
 * operation ends with `metadata.return` (and `metadata.output` when recorded).
 */
import { closeSync, constants as fsc, open } from 'node:fs';
import { join } from 'node:path';
import type { OperationContext } from '../../operations/registry';
import { commandFailure } from './exit-status';
import type { ExecCommand, InstanceExec } from './instance-exec';
import { prepareExecOutputDir, recordedOutputFiles } from './output-files';

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
      await prepareExecOutputDir(target.outputDir);
      const names = recordedOutputFiles(ctx.id);
      files.push(await openOutput(target.outputDir, names.stdout));
      files.push(await openOutput(target.outputDir, names.stderr));
      const base = `/1.0/instances/${target.instance}/logs/exec-output`;
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
