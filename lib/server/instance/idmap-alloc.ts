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
  base?: number;
  size?: number;
  raw?: string;
}

/**
 * The map for an instance. `takenBases` holds the host bases already used by
 * other isolated instances; the shared host range is [host.uid.hostBase,
 * +size) and the isolated ones are carved after the first 65536 ids of it.
 */
export function allocateIdmap(host: Idmap, req: IdmapRequest, takenBases: number[]): { entries: IdmapEntry[]; base: number } {
  let base = host.uid.hostBase;
  let size = Math.min(host.uid.size, host.gid.size);
  if (req.base !== undefined) {
    base = req.base;
    size = req.size ?? DEFAULT_SIZE;
  } else if (req.isolated) {
    size = req.size ?? DEFAULT_SIZE;
    const taken = new Set(takenBases);
    const limit = host.uid.hostBase + Math.min(host.uid.size, host.gid.size) - size;
    let candidate = host.uid.hostBase + DEFAULT_SIZE;
    while (taken.has(candidate)) candidate += size;
    if (candidate > limit) throw badRequest('Not enough uid/gid available for the container');
    base = candidate;
  }
  let entries: IdmapEntry[] = [
    { isUid: true, isGid: false, hostId: base, nsId: 0, range: size },
    { isUid: false, isGid: true, hostId: base, nsId: 0, range: size },
  ];
  for (const hole of req.raw ? parseRawIdmap(req.raw) : []) {
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
