/**
 * Writing an uploaded file into an instance without ever leaving a
 * half-written file in place of a good one: an overwrite goes to a
 * temporary file in the same directory, which is renamed over the target
 * only once the whole body has arrived; a failed or cut-short upload
 * removes the temporary file and leaves the target as it was. Appends
 * write in place, as they must.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type FileStat, fileType } from '../../../native/forkfile';
import { type InstanceFiles, type InstanceOpenedFile, openedWriteStream } from './instance-files';
import { errnoCode } from './errors';

/** Write size for uploads. */
const WRITE_CHUNK = 1024 * 1024;
/** Symlinks followed before giving up, as the kernel's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;
/** Prefix of the temporary files an upload writes (removed unless it completes). */
export const PUSH_TEMP_PREFIX = '.incus-push-';

/** What a push asks for; ownership and mode apply only to a file the push creates (as Incus). */
export interface PushOptions {
  append: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** An upload that ended before its announced length. */
export class IncompleteUploadError extends Error {
  readonly code = 'ECONNABORTED';
  constructor() {
    super('Upload ended before the whole file arrived');
  }
}

/**
 * The path a write to `path` lands on (its final symlinks followed inside
 * the container) and what is there now (null when nothing is).
 */
export async function resolveTarget(session: InstanceFiles, path: string): Promise<{ path: string; stat: FileStat | null }> {
  let cur = path;
  for (let i = 0; i <= MAX_SYMLINKS; i++) {
    let st: FileStat;
    try {
      st = await session.lstat(cur);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { path: cur, stat: null };
      throw err;
    }
    if (fileType(st.mode) !== 'symlink') return { path: cur, stat: st };
    const link = await session.readlink(cur);
    cur = link.startsWith('/') ? link : posix.join(posix.dirname(cur), link);
  }
  throw Object.assign(new Error(`Too many levels of symbolic links: ${path}`), { code: 'ELOOP' });
}

/** Copies body into an opened file (let go in all cases); an upload cut short is an IncompleteUploadError. */
async function copyBody(body: Readable, f: InstanceOpenedFile): Promise<void> {
  try {
    await pipeline(body, openedWriteStream(f, WRITE_CHUNK));
  } catch (err) {
    if (errnoCode(err) === 'ECONNRESET' || errnoCode(err) === 'ERR_STREAM_PREMATURE_CLOSE') throw new IncompleteUploadError();
    throw err;
  }
  // An HTTP body that stopped short of its Content-Length.
  if ((body as { complete?: boolean }).complete === false) throw new IncompleteUploadError();
}

/** Opens path in place and streams the body into it (appends, and files a rename cannot replace). */
async function writeInPlace(session: InstanceFiles, path: string, body: Readable, o: PushOptions): Promise<void> {
  const f = await session.open(path, {
    write: true,
    create: !o.append,
    truncate: !o.append,
    append: o.append,
    mode: o.mode,
    uid: o.uid,
    gid: o.gid,
  });
  await copyBody(body, f);
}

/**
 * Writes body to `path` inside the instance. An overwrite of a regular
 * file (or a new file) is atomic: the old content stays until the new one
 * is complete, and the replacement keeps the old file's owner and mode.
 * Special files and files with several hard links are written in place,
 * since a rename would replace a device node or split the links.
 */
export async function pushFile(session: InstanceFiles, path: string, body: Readable, o: PushOptions): Promise<void> {
  if (o.append) return writeInPlace(session, path, body, o);
  const target = await resolveTarget(session, path);
  const st = target.stat;
  if (st && (fileType(st.mode) !== 'file' || st.nlink > 1)) return writeInPlace(session, target.path, body, o);

  const temp = posix.join(posix.dirname(target.path), `${PUSH_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  const f = await session.open(temp, {
    write: true,
    create: true,
    exclusive: true,
    mode: st ? st.mode & 0o7777 : o.mode,
    uid: st ? st.uid : o.uid,
    gid: st ? st.gid : o.gid,
  });
  try {
    await copyBody(body, f);
    await session.rename(temp, target.path);
  } catch (err) {
    await session.remove(temp).catch(() => undefined);
    throw err;
  }
}


/** A file opened for a truncating write, staged in a temporary file until it is committed. */
export interface StagedFile {
  fd: number;
  temp: string;
  target: string;
}

/**
 * For an SFTP OPEN with TRUNC: opens a temporary file beside the target
 * (with the target's owner and mode when it exists) instead of truncating
 * the target; {@link commitStaged} renames it over the target on CLOSE.
 * null when the open should go ahead in place: the target is a special
 * file or has several hard links, or is missing and `create` is not set
 * (so that the in-place open reports ENOENT).
 */
export async function openStaged(session: InstanceFiles, path: string, o: { create: boolean; read: boolean; mode?: number }): Promise<StagedFile | null> {
  const target = await resolveTarget(session, path);
  const st = target.stat;
  if (st ? fileType(st.mode) !== 'file' || st.nlink > 1 : !o.create) return null;
  const temp = posix.join(posix.dirname(target.path), `${PUSH_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  const f = await session.open(temp, {
    random: session.remoteIo !== undefined,
    read: o.read,
    write: true,
    create: true,
    exclusive: true,
    mode: st ? st.mode & 0o7777 : o.mode,
    uid: st?.uid,
    gid: st?.gid,
  });
  if (f.fd === undefined) throw new Error('staged files need an fd');
  return { fd: f.fd, temp, target: target.path };
}

/** Puts a staged file in place (its fd already closed); on failure the temporary file goes. */
export async function commitStaged(session: InstanceFiles, staged: StagedFile): Promise<void> {
  try {
    await session.rename(staged.temp, staged.target);
  } catch (err) {
    await session.remove(staged.temp).catch(() => undefined);
    throw err;
  }
}
