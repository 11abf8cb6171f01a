/**
 * What `edit`-style commands need from the user's terminal: whether stdin
 * is one, all of stdin when it is not, one key press, and a text editor
 * run on a temporary file ($VISUAL, then $EDITOR, then the first of
 * editor/vi/emacs/nano on PATH, as Incus picks it).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The terminal side of an interactive edit. */
export interface Terminal {
  /** True when stdin is a terminal (then commands open an editor instead of reading stdin). */
  stdinIsTerminal(): boolean;
  /** All of stdin, as text. */
  readStdin(): string;
  /** Waits for one byte on stdin ("Press enter"). @throws Error `EOF` when stdin is closed. */
  waitForKey(): void;
  /** Lets the user edit `content`; returns the text saved. */
  edit(content: string): string;
}

/** Finds an executable named `name` on `PATH`. */
function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      // Not in this directory.
    }
  }
  return false;
}

/**
 * The editor command line to run, split on whitespace like Incus does (no
 * shell): `EDITOR="vim -u NONE"` works, quoting does not.
 * @throws Error when no editor can be found.
 */
export function editorCommand(env: NodeJS.ProcessEnv): string[] {
  const chosen = env.VISUAL || env.EDITOR || ['editor', 'vi', 'emacs', 'nano'].find((p) => onPath(p, env));
  const parts = (chosen ?? '').split(/\s+/).filter(Boolean);
  if (parts.length === 0) throw new Error('No text editor found, please set the EDITOR environment variable');
  return parts;
}

/**
 * Writes `content` to a private temporary `.yaml` file, runs the editor on
 * it with this process's stdio, and returns the file's text afterwards.
 * The file is removed in every case.
 * @throws Error `exit status N` when the editor fails, as Go reports it.
 */
export function runTextEditor(content: string, env: NodeJS.ProcessEnv): string {
  const [cmd, ...args] = editorCommand(env);
  const file = path.join(os.tmpdir(), `editor_${randomBytes(6).toString('hex')}.yaml`);
  fs.writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
  try {
    const r = spawnSync(cmd!, [...args, file], { stdio: 'inherit', env });
    if (r.error) throw new Error(`exec: ${JSON.stringify(cmd)}: ${r.error.message}`);
    if (r.signal) throw new Error(`signal: ${r.signal}`);
    if (r.status !== 0) throw new Error(`exit status ${r.status}`);
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Reads from fd 0 synchronously, retrying when it is non-blocking and empty. */
function readFd0(buf: Buffer): number {
  for (;;) {
    try {
      return fs.readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if (code === 'EOF') return 0;
      throw err;
    }
  }
}

/** The process's own terminal (fd 0 and the user's editor). */
export function processTerminal(env: NodeJS.ProcessEnv): Terminal {
  return {
    stdinIsTerminal: () => {
      const tty = require('node:tty') as typeof import('node:tty');
      return tty.isatty(0);
    },
    readStdin: () => {
      const chunks: Buffer[] = [];
      const buf = Buffer.alloc(65536);
      for (let n = readFd0(buf); n > 0; n = readFd0(buf)) chunks.push(Buffer.from(buf.subarray(0, n)));
      return Buffer.concat(chunks).toString('utf8');
    },
    waitForKey: () => {
      if (readFd0(Buffer.alloc(1)) === 0) throw new Error('EOF');
    },
    edit: (content) => runTextEditor(content, env),
  };
}
