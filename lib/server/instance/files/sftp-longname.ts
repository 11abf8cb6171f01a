/**
 * The `longname` of an SFTP directory entry: one `ls -l` line, in the
 * layout OpenSSH's server and Go's pkg/sftp use (clients print it as is).
 */
import type { FileStat } from '../../../native/forkfile';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const TYPE_CHARS: Record<number, string> = {
  0o140000: 's',
  0o120000: 'l',
  0o100000: '-',
  0o060000: 'b',
  0o040000: 'd',
  0o020000: 'c',
  0o010000: 'p',
};

/** "drwxr-xr-x" with set-id and sticky bits as ls shows them. */
export function modeString(mode: number): string {
  const t = TYPE_CHARS[mode & 0o170000] ?? '?';
  const rwx = (bits: number, special: boolean, specialChar: string): string => {
    const x = bits & 1 ? (special ? specialChar : 'x') : special ? specialChar.toUpperCase() : '-';
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${x}`;
  };
  return (
    t +
    rwx((mode >> 6) & 7, (mode & 0o4000) !== 0, 's') +
    rwx((mode >> 3) & 7, (mode & 0o2000) !== 0, 's') +
    rwx(mode & 7, (mode & 0o1000) !== 0, 't')
  );
}

/** "Jan  2 15:04" within six months of now, "Jan  2  2006" otherwise (UTC). */
function lsDate(sec: number, nowSec: number): string {
  const d = new Date(sec * 1000);
  const day = String(d.getUTCDate()).padStart(2, ' ');
  const recent = Math.abs(nowSec - sec) < 182 * 24 * 3600;
  const tail = recent
    ? `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`
    : ` ${d.getUTCFullYear()}`;
  return `${MONTHS[d.getUTCMonth()]} ${day} ${tail}`;
}

/** The whole line for one entry. */
export function longname(name: string, st: FileStat, nowSec = Math.floor(Date.now() / 1000)): string {
  return [
    modeString(st.mode),
    String(st.nlink).padStart(4, ' '),
    String(st.uid).padEnd(8, ' '),
    String(st.gid).padEnd(8, ' '),
    String(st.size).padStart(8, ' '),
    lsDate(st.mtime, nowSec),
    name,
  ].join(' ');
}
