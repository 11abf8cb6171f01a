/**
 * `incus file edit`: pull a file into a temporary copy, run the user's
 * editor on it, push it back (owner and mode of the file are kept). When
 * stdin is not a terminal, its contents replace the file instead, as in
 * Incus.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { editorCommand } from '../terminal';
import { pullFiles } from './pull';
import { pushFiles } from './push';
import type { RemoteFs } from './remote-fs';

/** Edits `typedPath` in `remote`. */
export async function editFile(remote: RemoteFs, typedPath: string, io: { stdin: Readable; stdout: Writable; stdinIsTerminal: boolean; env: NodeJS.ProcessEnv }): Promise<void> {
  const keep = { uid: -1, gid: -1, noModeChange: true };
  if (!io.stdinIsTerminal) {
    await pushFiles(remote, ['-'], typedPath, keep, io.stdin);
    return;
  }
  const [cmd, ...args] = editorCommand(io.env);
  const file = path.join(os.tmpdir(), `incus_file_edit_${randomBytes(6).toString('hex')}${path.posix.extname(typedPath)}`);
  try {
    await pullFiles([{ remote, path: typedPath }], file, {}, io.stdout);
    const r = spawnSync(cmd!, [...args, file], { stdio: 'inherit', env: io.env });
    if (r.error) throw new Error(`exec: ${JSON.stringify(cmd)}: ${r.error.message}`);
    if (r.signal) throw new Error(`signal: ${r.signal}`);
    if (r.status !== 0) throw new Error(`exit status ${r.status}`);
    await pushFiles(remote, [file], typedPath, keep, io.stdin);
  } finally {
    fs.rmSync(file, { force: true });
  }
}
