/**
 * Maps a failed file request to the API's status: a missing path is 404
 * "Not Found" and a refused one 403 "Forbidden" (Incus's generic texts for
 * these), a request that cannot apply to what is there is 400, anything
 * else 500 with the helper's message. A path the helper cannot even be
 * sent (NUL bytes, too long) is 400.
 */
import { StatusError } from '../../errors';

const NOT_FOUND = new Set(['ENOENT', 'ENOTDIR']);
const FORBIDDEN = new Set(['EACCES', 'EPERM', 'EROFS']);
const BAD_REQUEST = new Set(['EBUSY', 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'EINVAL', 'ELOOP', 'ENAMETOOLONG', 'EXDEV']);

/** The errno name a file failure carries, if any. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Turns a file request failure into the StatusError the route throws. */
export function fileError(err: unknown): Error {
  if (err instanceof StatusError) return err;
  // Refused before reaching the helper (a NUL byte, a path beyond PATH_MAX).
  if (err instanceof TypeError || err instanceof RangeError) return new StatusError(400, err.message);
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code && NOT_FOUND.has(code)) return new StatusError(404, 'Not Found');
  if (code && FORBIDDEN.has(code)) return new StatusError(403, 'Forbidden');
  if (code && BAD_REQUEST.has(code)) return new StatusError(400, msg);
  return new StatusError(500, msg);
}
