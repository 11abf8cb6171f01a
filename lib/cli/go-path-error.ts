/**
 * A Node fs error worded as Go's *os.PathError prints it ("open FILE: no
 * such file or directory"): how Incus's CLI reports a local file it cannot
 * use, so scripts that match the message see the same text.
 */
import { open } from 'node:fs/promises';
import { getSystemErrorMap } from 'node:util';

/** Where libuv's text differs from the C library's strerror, which Go prints. */
const GO_TEXT: Record<string, string> = {
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
};

/** `${op} ${path}: <errno text>`, or `err` itself when it carries no errno. */
export function goPathError(op: string, path: string, err: unknown): Error {
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.errno !== 'number' || typeof e.code !== 'string') return err as Error;
  const text = GO_TEXT[e.code] ?? getSystemErrorMap().get(e.errno)?.[1] ?? e.code;
  return new Error(`${op} ${path}: ${text}`);
}

/** Opens and closes `path` for reading, failing as Go's os.Open would. */
export async function checkReadable(path: string): Promise<void> {
  try {
    await (await open(path, 'r')).close();
  } catch (err) {
    throw goPathError('open', path, err);
  }
}
