/**
 * The host id range that unprivileged containers map to: root's entry in
 * /etc/subuid and /etc/subgid, else Incus's default of 1000000 + 1e9.
 */
import { readFileSync } from 'node:fs';

export interface IdRange {
  hostBase: number;
  size: number;
}

export interface Idmap {
  uid: IdRange;
  gid: IdRange;
}

const DEFAULT: IdRange = { hostBase: 1000000, size: 1000000000 };

/** Parses one subid file's entries for user root (name or uid 0); the largest range wins. */
export function parseSubid(text: string): IdRange | null {
  let best: IdRange | null = null;
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if ((who !== 'root' && who !== '0') || start === undefined || count === undefined) continue;
    const r = { hostBase: Number(start), size: Number(count) };
    if (!Number.isInteger(r.hostBase) || !Number.isInteger(r.size) || r.size < 65536) continue;
    if (!best || r.size > best.size) best = r;
  }
  return best;
}

function readRange(path: string): IdRange {
  try {
    const r = parseSubid(readFileSync(path, 'utf8'));
    if (r) return { hostBase: r.hostBase, size: Math.min(r.size, DEFAULT.size) };
  } catch {
    // No file: root needs no delegation, use the default range.
  }
  return DEFAULT;
}

export function hostIdmap(): Idmap {
  return { uid: readRange('/etc/subuid'), gid: readRange('/etc/subgid') };
}

/** The map in Incus's volatile.idmap.* JSON form. */
export function idmapJson(m: Idmap): string {
  return JSON.stringify([
    { Isuid: true, Isgid: false, Hostid: m.uid.hostBase, Nsid: 0, Maprange: m.uid.size },
    { Isuid: false, Isgid: true, Hostid: m.gid.hostBase, Nsid: 0, Maprange: m.gid.size },
  ]);
}
