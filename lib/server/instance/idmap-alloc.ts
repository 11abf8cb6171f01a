/**
 * The id map an instance runs with: the shared host range by default, a
 * range of its own with security.idmap.isolated (disjoint from every other
 * isolated instance), an explicit base/size, and raw.idmap holes that map
 * chosen host ids straight into the container.
 */
import { badRequest } from '../errors';
import type { Idmap } from './idmap';

export interface IdmapEntry {
  isUid: boolean;
  isGid: boolean;
  hostId: number;
  nsId: number;
  range: number;
}

const DEFAULT_SIZE = 65536;

/** One line of raw.idmap: `uid|gid|both HOST[-HOST] NS[-NS]`. */
export function parseRawIdmap(text: string): IdmapEntry[] {
  const out: IdmapEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^(uid|gid|both)\s+(\d+)(?:-(\d+))?\s+(\d+)(?:-(\d+))?$/.exec(line);
    if (!m) throw badRequest(`Invalid raw.idmap line "${line}"`);
    const [h0, h1] = [Number(m[2]), m[3] ? Number(m[3]) : Number(m[2])];
    const [n0, n1] = [Number(m[4]), m[5] ? Number(m[5]) : Number(m[4])];
    if (h1 - h0 !== n1 - n0 || h1 < h0) throw badRequest(`Invalid raw.idmap line "${line}": ranges differ in size`);
    out.push({ isUid: m[1] !== 'gid', isGid: m[1] !== 'uid', hostId: h0, nsId: n0, range: h1 - h0 + 1 });
  }
  return out;
}

/** Removes [nsId, nsId+range) from a base map, splitting it where needed. */
function punch(base: IdmapEntry[], hole: IdmapEntry): IdmapEntry[] {
  const out: IdmapEntry[] = [];
  for (const e of base) {
    const kindsMatch = (hole.isUid && e.isUid) || (hole.isGid && e.isGid);
    const end = e.nsId + e.range;
    const hEnd = hole.nsId + hole.range;
    if (!kindsMatch || hEnd <= e.nsId || hole.nsId >= end) {
      out.push(e);
      continue;
    }
    if (hole.nsId > e.nsId) out.push({ ...e, range: hole.nsId - e.nsId });
    if (hEnd < end) out.push({ ...e, nsId: hEnd, hostId: e.hostId + (hEnd - e.nsId), range: end - hEnd });
  }
  return out;
}

export interface IdmapRequest {
  isolated: boolean;
  /** security.idmap.base (isolated maps only, as in Incus). */
  base?: number;
  /** security.idmap.size: an isolated map's size, or a cap on the shared range. */
  size?: number;
  raw?: string;
}

/** A host range another isolated container holds (its volatile.idmap.base and map size). */
export interface TakenRange {
  base: number;
  size: number;
}

/**
 * Whether raw entry `i` may not join a map holding `e`, as Incus's AddSafe
 * decides: the two overlap at all (host or container ids, Entry.Intersects)
 * and their host ranges meet (Entry.HostIDsIntersect, which also counts
 * ranges that only touch).
 */
function hostIdsClash(e: IdmapEntry, i: IdmapEntry): boolean {
  if (!((e.isUid && i.isUid) || (e.isGid && i.isGid))) return false;
  const between = (x: number, lo: number, hi: number): boolean => x >= lo && x < hi;
  const overlap = (a: number, ar: number, b: number, br: number): boolean =>
    between(a, b, b + br - 1) || between(b, a, a + ar - 1) || between(a + ar - 1, b, b + br - 1) || between(b + br - 1, a, a + ar - 1);
  if (!overlap(e.hostId, e.range, i.hostId, i.range) && !overlap(e.nsId, e.range, i.nsId, i.range)) return false;
  const [eEnd, iEnd] = [e.hostId + e.range, i.hostId + i.range];
  return between(e.hostId, i.hostId, iEnd) || between(i.hostId, e.hostId, eEnd) || between(eEnd, i.hostId, iEnd) || between(iEnd, e.hostId, eEnd);
}

/**
 * Where an isolated map of `size` ids goes: the first gap after the shared
 * range's first 65536 ids between the ranges others hold, walked as Incus's
 * findIdmap walks them.
 */
function isolatedOffset(host: Idmap, size: number, taken: readonly TakenRange[]): number {
  let offset = host.uid.hostBase + DEFAULT_SIZE;
  const ranges = [...taken].sort((a, b) => a.base - b.base);
  for (const [i, r] of ranges.entries()) {
    if (i === 0) {
      if (r.base < offset + size) {
        offset = r.base + r.size;
        continue;
      }
      return offset;
    }
    const prev = ranges[i - 1]!;
    if (prev.base + prev.size > offset) {
      offset = prev.base + prev.size;
      continue;
    }
    offset = prev.base + prev.size;
    if (offset + size < r.base) return offset;
    offset = r.base + r.size;
  }
  if (offset + size <= host.uid.hostBase + host.uid.size) return offset;
  throw badRequest('Not enough uid/gid available for the container');
}

/**
 * The map for an instance: the host's shared range (capped at
 * security.idmap.size), or with security.idmap.isolated a range of its own
 * (at security.idmap.base, else the first free one after `taken`); then
 * the raw.idmap entries, which punch holes into it. A raw entry whose host
 * ids fall in the map's own host ranges is refused, as Incus refuses it.
 */
export function allocateIdmap(host: Idmap, req: IdmapRequest, taken: readonly TakenRange[]): { entries: IdmapEntry[]; base: number } {
  let entries: IdmapEntry[];
  let base: number;
  if (!req.isolated) {
    base = host.uid.hostBase;
    const cap = (n: number): number => (req.size !== undefined && req.size < n ? req.size : n);
    entries = [
      { isUid: true, isGid: false, hostId: host.uid.hostBase, nsId: 0, range: cap(host.uid.size) },
      { isUid: false, isGid: true, hostId: host.gid.hostBase, nsId: 0, range: cap(host.gid.size) },
    ];
  } else {
    const size = req.size ?? DEFAULT_SIZE;
    base = req.base ?? isolatedOffset(host, size, taken);
    entries = [
      { isUid: true, isGid: false, hostId: base, nsId: 0, range: size },
      { isUid: false, isGid: true, hostId: base, nsId: 0, range: size },
    ];
  }
  for (const hole of req.raw ? parseRawIdmap(req.raw) : []) {
    if (entries.some((e) => hostIdsClash(e, hole))) throw badRequest('Host ID is in the range of subids');
    entries = punch(entries, hole);
    if (hole.isUid) entries.push({ ...hole, isGid: false });
    if (hole.isGid) entries.push({ ...hole, isUid: false });
  }
  entries.sort((a, b) => Number(b.isUid) - Number(a.isUid) || a.nsId - b.nsId);
  return { entries, base };
}

/** The map in Incus's volatile.idmap.* JSON form. */
export function entriesJson(entries: IdmapEntry[]): string {
  return JSON.stringify(
    entries.map((e) => ({ Isuid: e.isUid, Isgid: e.isGid, Hostid: e.hostId, Nsid: e.nsId, Maprange: e.range })),
  );
}


/** A map from its volatile.idmap.* JSON form ("" and "[]": no map). */
export function parseIdmapJson(text: string | undefined): IdmapEntry[] {
  if (!text) return [];
  const parsed = JSON.parse(text) as { Isuid: boolean; Isgid: boolean; Hostid: number; Nsid: number; Maprange: number }[];
  return parsed.map((x) => ({ isUid: x.Isuid, isGid: x.Isgid, hostId: x.Hostid, nsId: x.Nsid, range: x.Maprange }));
}
