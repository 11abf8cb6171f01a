/**
 * Incus's generic rule for API object names (shared/validate IsAPIName):
 * storage pools, volumes and their snapshots, instance snapshots, profiles,
 * networks; image aliases with slashes allowed.
 */

/** Characters that mean something in a URL or a shell. */
const RESERVED = ['$', '?', '&', '+', '"', "'", '`', '*'];
const ENDS = /^[a-zA-Z0-9]+(.*[a-zA-Z0-9]+)?$/su;
const MAX_BYTES = 64;

/**
 * Why value is not a valid API name, or null when it is. As Incus: at most
 * 64 bytes, no white space, none of the reserved characters (nor "/" unless
 * allowed), alphanumeric at both ends. Stricter than Incus on one point:
 * control characters (NUL included) are refused too, since a name ends up
 * in paths and logs.
 */
export function apiNameProblem(value: string, allowSlashes = false): string | null {
  // Go's len() counts bytes.
  if (Buffer.byteLength(value, 'utf8') > MAX_BYTES) return `Maximum name length is ${MAX_BYTES} characters`;
  // Go's unicode.IsSpace is the White_Space property.
  if (/\p{White_Space}/u.test(value)) return 'Name cannot contain white space';
  if (/\p{Cc}/u.test(value)) return 'Name cannot contain control characters';
  for (const c of allowSlashes ? RESERVED : [...RESERVED, '/']) {
    if (value.includes(c)) return `Name contains invalid character ${JSON.stringify(c)}`;
  }
  if (!ENDS.test(value)) return 'Names must start and end with an alphanumeric character';
  return null;
}
