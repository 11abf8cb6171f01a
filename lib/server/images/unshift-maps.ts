/**
 * A rootfs shifted on disk (owned by host ids) is published with container
 * ids, as Incus's instance tar writer unshifts each header by the disk id
 * map: GNU tar's --owner-map / --group-map files, one line per id the tree
 * actually holds (a map's range can be far larger than what is used).
 */
import { lstat, opendir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IdmapEntry } from '../instance/idmap-alloc';
import { mapId } from '../instance/idmap-remap';

/** The distinct uids and gids of root and everything below it (symlinks not followed). */
async function idsUnder(root: string): Promise<{ uids: Set<number>; gids: Set<number> }> {
  const out = { uids: new Set<number>(), gids: new Set<number>() };
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p);
    out.uids.add(st.uid);
    out.gids.add(st.gid);
    if (!st.isDirectory()) return;
    for await (const d of await opendir(p)) await visit(join(p, d.name));
  };
  await visit(root);
  return out;
}

/** `+HOST +NS` lines for the ids the map covers. */
function mapLines(ids: Set<number>, entries: readonly IdmapEntry[], kind: 'uid' | 'gid'): string {
  let text = '';
  for (const id of ids) {
    const ns = mapId(entries, id, kind, 'out');
    if (ns !== -1) text += `+${id} +${ns}\n`;
  }
  return text;
}

/** Writes the two map files into dir; returns the tar flags that use them. */
export async function unshiftTarFlags(root: string, entries: readonly IdmapEntry[], dir: string): Promise<string[]> {
  const { uids, gids } = await idsUnder(root);
  const owners = join(dir, 'owner-map');
  const groups = join(dir, 'group-map');
  await writeFile(owners, mapLines(uids, entries, 'uid'));
  await writeFile(groups, mapLines(gids, entries, 'gid'));
  return [`--owner-map=${owners}`, `--group-map=${groups}`];
}
