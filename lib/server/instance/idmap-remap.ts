/**
 * On-disk ownership shifts by an id map, as Incus's idmap.Set ShiftPath
 * (container ids to host ids) and UnshiftPath (host ids back to container
 * ids): every entry under a path is lchown'd, ids the map does not cover
 * are left as they are, hard links are shifted once, symlinks are not
 * followed and setuid/setgid bits that chown clears are put back. Used for
 * custom volumes that are neither shifted (idmapped mounts) nor unmapped.
 * POSIX ACLs and file capabilities are not rewritten.
 * See lchown(2), chmod(2), inode(7).
 */
import { chmod, lchown, lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdmapEntry } from './idmap-alloc';

/** `in`: container id to host id (ShiftPath); `out`: host id to container id (UnshiftPath). */
export type ShiftDirection = 'in' | 'out';

/** One id through the first entry of its kind that covers it; -1 when none does (left unchanged). */
export function mapId(entries: readonly IdmapEntry[], id: number, kind: 'uid' | 'gid', how: ShiftDirection): number {
  for (const e of entries) {
    if (kind === 'uid' ? !e.isUid : !e.isGid) continue;
    const [from, to] = how === 'in' ? [e.nsId, e.hostId] : [e.hostId, e.nsId];
    if (id >= from && id < from + e.range) return id - from + to;
  }
  return -1;
}

/** Shifts the ownership of path and everything below it by the map. */
export async function remapTree(path: string, entries: readonly IdmapEntry[], how: ShiftDirection): Promise<void> {
  const seen = new Set<string>();
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p, { bigint: true });
    if (st.nlink >= 2n) {
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    const uid = mapId(entries, Number(st.uid), 'uid', how);
    const gid = mapId(entries, Number(st.gid), 'gid', how);
    if (uid !== -1 || gid !== -1) {
      await lchown(p, uid === -1 ? Number(st.uid) : uid, gid === -1 ? Number(st.gid) : gid);
      const mode = Number(st.mode);
      if (!st.isSymbolicLink() && mode & 0o6000) await chmod(p, mode & 0o7777);
    }
    if (!st.isDirectory()) return;
    const dir = await opendir(p);
    for await (const d of dir) await visit(join(p, d.name));
  };
  await visit(path);
}
