/** The disk idmap a container's volume was last shifted with (volatile.last_state.idmap), as header entries and back. */
import type { IdmapEntry } from './proto';

interface JsonEntry {
  Isuid?: boolean;
  Isgid?: boolean;
  Hostid?: number;
  Nsid?: number;
  Maprange?: number;
}

export function idmapToHeader(json: string | undefined): IdmapEntry[] {
  let list: JsonEntry[] = [];
  try {
    list = JSON.parse(json || '[]') as JsonEntry[];
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list.map((e) => ({ isuid: e.Isuid === true, isgid: e.Isgid === true, hostid: e.Hostid ?? 0, nsid: e.Nsid ?? 0, maprange: e.Maprange ?? 0 }));
}

export function idmapFromHeader(entries: readonly IdmapEntry[] | undefined): string {
  return JSON.stringify((entries ?? []).map((e) => ({ Isuid: e.isuid, Isgid: e.isgid, Hostid: e.hostid, Nsid: e.nsid, Maprange: e.maprange })));
}
