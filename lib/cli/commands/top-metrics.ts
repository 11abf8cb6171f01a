/**
 * What `incus top` shows per instance, read from /1.0/metrics as Incus's
 * top does: CPU seconds (every mode but idle), memory in use (MemTotal
 * minus MemAvailable), rootfs in use (size minus free at mountpoint "/").
 */

export interface TopRow {
  project: string;
  name: string;
  cpuSeconds: number;
  memoryBytes: number;
  diskBytes: number;
}

const SAMPLE = /^(\w+)\{(.*)\}\s+(\S+)$/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

function labelsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(LABEL)) out[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return out;
}

/** One row per instance the scrape names (its `name` and `project` labels). */
export function topRows(text: string): TopRow[] {
  const rows = new Map<string, TopRow>();
  const total = new Map<string, number>();
  const avail = new Map<string, number>();
  const size = new Map<string, number>();
  const free = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const [, metric, rawLabels, rawValue] = m;
    const l = labelsOf(rawLabels!);
    if (!l.name) continue;
    const value = Number(rawValue);
    if (!Number.isFinite(value)) continue;
    const key = `${l.project ?? ''}\0${l.name}`;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { project: l.project ?? '', name: l.name, cpuSeconds: 0, memoryBytes: 0, diskBytes: 0 }));
    const add = (map: Map<string, number>): void => void map.set(key, (map.get(key) ?? 0) + value);
    if (metric === 'incus_cpu_seconds_total' && l.mode !== 'idle') row.cpuSeconds += value;
    else if (metric === 'incus_memory_MemTotal_bytes') add(total);
    else if (metric === 'incus_memory_MemAvailable_bytes') add(avail);
    else if (metric === 'incus_filesystem_size_bytes' && l.mountpoint === '/') add(size);
    else if (metric === 'incus_filesystem_free_bytes' && l.mountpoint === '/') add(free);
  }
  for (const [key, row] of rows) {
    row.memoryBytes = (total.get(key) ?? 0) - (avail.get(key) ?? 0);
    row.diskBytes = (size.get(key) ?? 0) - (free.get(key) ?? 0);
  }
  return [...rows.values()];
}

export type TopSort = 'a' | 'c' | 'm' | 'd';
export const SORT_NAMES: Record<TopSort, string> = { a: 'Alphabetical', c: 'CPU Usage', m: 'Memory Usage', d: 'Disk Usage' };

export function sortTopRows(rows: TopRow[], by: TopSort): TopRow[] {
  const cmp: Record<TopSort, (a: TopRow, b: TopRow) => number> = {
    a: (a, b) => (a.project !== b.project ? (a.project < b.project ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    c: (a, b) => b.cpuSeconds - a.cpuSeconds,
    m: (a, b) => b.memoryBytes - a.memoryBytes,
    d: (a, b) => b.diskBytes - a.diskBytes,
  };
  return [...rows].sort(cmp[by]);
}
