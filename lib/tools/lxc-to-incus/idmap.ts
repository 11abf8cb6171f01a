/**
 * `lxc.idmap = u|g <container id> <host id> <count>` entries, and the tar
 * owner maps that turn a shifted rootfs (host ids) back into container ids.
 */

/** One idmap line. */
export interface IdMapEntry {
  kind: 'u' | 'g';
  nsid: number;
  hostid: number;
  count: number;
}

/** Parses one value. @throws on a malformed entry. */
export function parseIdMap(value: string): IdMapEntry {
  const m = /^([ug])\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`Invalid idmap entry: ${value}`);
  return { kind: m[1] as 'u' | 'g', nsid: Number(m[2]), hostid: Number(m[3]), count: Number(m[4]) };
}

/** The container id of host id `id` under the `kind` entries; undefined when unmapped. */
export function toContainerId(map: IdMapEntry[], kind: 'u' | 'g', id: number): number | undefined {
  for (const e of map) if (e.kind === kind && id >= e.hostid && id < e.hostid + e.count) return e.nsid + (id - e.hostid);
  return undefined;
}

/**
 * GNU tar `--owner-map`/`--group-map` text for the ids found on disk:
 * `+HOSTID +NSID` per mapped id. Unmapped ids are returned apart (they would
 * show up as nobody inside and are worth reporting).
 */
export function ownerMap(map: IdMapEntry[], kind: 'u' | 'g', ids: Iterable<number>): { text: string; unmapped: number[] } {
  const lines: string[] = [];
  const unmapped: number[] = [];
  for (const id of [...new Set(ids)].sort((a, b) => a - b)) {
    const ns = toContainerId(map, kind, id);
    if (ns === undefined) unmapped.push(id);
    else lines.push(`+${id} +${ns}`);
  }
  return { text: lines.join('\n') + (lines.length ? '\n' : ''), unmapped };
}
