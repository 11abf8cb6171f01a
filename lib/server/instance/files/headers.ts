/**
 * The X-Incus-* headers of the files API: parsing a push's ownership, mode,
 * type and write mode exactly as Incus does, and describing a file in a
 * GET/HEAD reply. Pure functions.
 */
import { type FileStat, fileType } from '../../../native/forkfile';

/** What a POST asks for; -1 means "not given". */
export interface PushHeaders {
  uid: number;
  gid: number;
  mode: number;
  type: string;
  write: string;
}

/** Reads a header by its Incus name, falling back to the LXD spelling. */
export type HeaderReader = (name: string) => string | undefined;

/** Go's strconv.ParseInt(s, 10, 64) accepts an optional sign and decimal digits only. */
function parseDecimal(s: string | undefined): number | null {
  if (s === undefined || !/^[+-]?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** Go's strconv.ParseInt(s, 0, 0): a 0x/0o/0b prefix or a leading 0 (octal) picks the base. */
function parseAnyBase(s: string): number | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (!m) return null;
  const body = m[2]!.replace(/_/g, '');
  let n: number;
  if (/^0[xX]/.test(body)) n = parseInt(body.slice(2), 16);
  else if (/^0[oO]/.test(body)) n = parseInt(body.slice(2), 8);
  else if (/^0[bB]/.test(body)) n = parseInt(body.slice(2), 2);
  else if (body.startsWith('0')) n = body.length === 1 ? 0 : parseInt(body.slice(1), 8);
  else n = parseInt(body, 10);
  return m[1] === '-' ? -n : n;
}

/**
 * Incus's api.ParseFileHeaders: uid/gid decimal (else -1); mode must parse
 * as a decimal integer (else -1), then is re-read with Go's base prefixes
 * and masked to the permission bits (so "0644" is octal, "644" decimal);
 * type defaults to "file", write to "overwrite".
 */
export function parsePushHeaders(get: HeaderReader): PushHeaders {
  const uid = parseDecimal(get('uid')) ?? -1;
  const gid = parseDecimal(get('gid')) ?? -1;
  const rawMode = get('mode');
  let mode = parseDecimal(rawMode) ?? -1;
  if (mode !== -1 && rawMode !== undefined) {
    const any = parseAnyBase(rawMode);
    if (any !== null) mode = any & 0o777;
  }
  return { uid, gid, mode, type: get('type') || 'file', write: get('write') || 'overwrite' };
}

/** The API's name for a file type: devices, fifos and sockets count as files, as in Incus. */
export function apiFileType(st: FileStat): 'file' | 'directory' | 'symlink' {
  const t = fileType(st.mode);
  return t === 'other' ? 'file' : t;
}

/** Go's time.Time.String() of a UTC time with whole seconds: "2006-01-02 15:04:05 +0000 UTC". */
export function goTimeString(sec: number): string {
  const iso = new Date(sec * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} +0000 UTC`;
}

/** The X-Incus-* headers describing a file (mode: permission bits as %04o). */
export function describeHeaders(st: FileStat): Record<string, string> {
  return {
    'X-Incus-uid': String(st.uid),
    'X-Incus-gid': String(st.gid),
    'X-Incus-mode': (st.mode & 0o777).toString(8).padStart(4, '0'),
    'X-Incus-modified': goTimeString(st.mtime),
    'X-Incus-type': apiFileType(st),
  };
}

/** Incus's util.IsFalseOrEmpty: "", false, 0, off, no (any case). */
export function isFalseOrEmpty(v: string | undefined): boolean {
  return v === undefined || ['', 'false', '0', 'off', 'no'].includes(v.toLowerCase());
}
