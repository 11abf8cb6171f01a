/**
 * Arguments of `incus file`: `[<remote>:]<instance>/<path>`, paths cleaned
 * the way the server expects them, `-` for stdin/stdout, and --mode values
 * parsed as Incus parses them. Pure functions.
 */
import { posix } from 'node:path';
import { localName } from '../remote';

/** An instance and a path inside it, as written on the command line. */
export interface InstancePath {
  instance: string;
  /** The text after the first "/" (may be empty or relative). */
  path: string;
}

/** Splits `[local:]c1/etc/hosts` into instance and path. */
export function parseInstancePath(arg: string): InstancePath {
  const rest = localName(arg);
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new Error(`Invalid path ${JSON.stringify(arg)}: expected <instance>/<path>`);
  return { instance: rest.slice(0, slash), path: rest.slice(slash + 1) };
}

/** Go's path.Clean for an absolute path. */
export function cleanPath(p: string): string {
  const n = posix.normalize(`/${p}`);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * The absolute, cleaned path the server expects, and whether the user
 * asked for a directory (a trailing "/").
 */
export function normalizePath(p: string): { path: string; isDir: boolean } {
  return { path: cleanPath(p), isDir: `/${p}`.endsWith('/') };
}

/** `-`, /dev/stdin or /dev/fd/0. */
export function isStdin(p: string): boolean {
  return p === '-' || p === '/dev/stdin' || p === '/dev/fd/0';
}

/** `-`, /dev/stdout or /dev/fd/1. */
export function isStdout(p: string): boolean {
  return p === '-' || p === '/dev/stdout' || p === '/dev/fd/1';
}

/** Go's strconv.ParseInt(s, 0, 0): 0x, 0o, 0b prefixes, a leading 0 for octal. */
function parseGoInt(s: string): number | null {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return null;
  const b = m[2]!;
  let n: number;
  if (/^0[xX]/.test(b)) n = parseInt(b.slice(2), 16);
  else if (/^0[oO]/.test(b)) n = parseInt(b.slice(2), 8);
  else if (/^0[bB]/.test(b)) n = parseInt(b.slice(2), 2);
  else if (b.length > 1 && b.startsWith('0')) n = parseInt(b.slice(1), 8);
  else n = parseInt(b, 10);
  return m[1] === '-' ? -n : n;
}

/** --mode as Incus reads it: three digits get a leading 0 (octal); only the permission bits are kept. */
export function parseModeFlag(flag: string): number {
  const s = flag.length === 3 ? `0${flag}` : flag;
  const n = parseGoInt(s);
  if (n === null) throw new Error(`strconv.ParseInt: parsing ${JSON.stringify(s)}: invalid syntax`);
  return n & 0o777;
}

/** --uid/--gid values: integers, -1 meaning "not given". */
export function parseIdFlag(v: string): number {
  if (!/^-?\d+$/.test(v)) throw new Error(`invalid argument ${JSON.stringify(v)}: strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  return Number(v);
}
