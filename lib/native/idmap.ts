/**
 * Ownership of container root filesystems: whether idmapped mounts work on
 * a directory, and the chown-based shift used where they do not.
 */
import { binding } from './addon';
import { NativeError, wrapNative } from './errors';
import { helperFailure, runHelper } from './helper';
import { checkPath } from './validate';

/**
 * true when idmapped mounts work on dir (runs incusd-helper idmap-probe);
 * false when INCUS_IDMAPPED_MOUNTS_DISABLE is true, Incus's switch to force
 * on-disk shifting.
 */
export async function probeIdmappedMounts(dir: string): Promise<boolean> {
  checkPath('probeIdmappedMounts', 'dir', dir);
  if (['1', 'true', 'yes', 'on'].includes((process.env.INCUS_IDMAPPED_MOUNTS_DISABLE ?? '').toLowerCase())) return false;
  const res = await runHelper(['idmap-probe', dir], { op: 'probeIdmappedMounts' });
  if (res.status === 0) return true;
  if (res.status === 2) return false;
  const { code, message } = helperFailure(res);
  throw new NativeError(`probeIdmappedMounts ${dir}: ${message}`, { code, op: 'probeIdmappedMounts', path: dir });
}

/**
 * lchown every entry under path from 0-based ids to id+offset, without
 * following symlinks and keeping setuid/setgid bits.
 */
export async function shiftTree(path: string, uidOffset: number, gidOffset: number): Promise<void> {
  checkPath('shiftTree', 'path', path);
  for (const [what, v] of [['uidOffset', uidOffset], ['gidOffset', gidOffset]] as const) {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 32 - 1) {
      throw new RangeError(`shiftTree: ${what} must be an integer in [0, 2^32-1), got ${String(v)}`);
    }
  }
  await wrapNative('shiftTree', undefined, () => binding().shiftTree(path, uidOffset, gidOffset));
}
