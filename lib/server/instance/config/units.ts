/** Parsing of Incus's value units: byte sizes, durations, CPU sets. */

const DECIMAL: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, PB: 1e15, EB: 1e18 };
const BINARY: Record<string, number> = {
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
  PiB: 2 ** 50,
  EiB: 2 ** 60,
};

/** Bytes in a size such as `512MiB`, `1GB` or `1024`; null when it is not one. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2];
  if (unit === '') return Number.isInteger(n) ? n : null;
  const mult = BINARY[unit] ?? DECIMAL[unit];
  if (mult === undefined) return null;
  return Math.floor(n * mult);
}

const DURATION_UNITS: Record<string, number> = {
  S: 1,
  M: 60,
  H: 3600,
  d: 86400,
  w: 7 * 86400,
  m: 30 * 86400,
  y: 365 * 86400,
};

/** Seconds in an Incus expiry duration such as `1d`, `2w` or `1H 30M`; null when invalid. */
export function parseDuration(text: string): number | null {
  const parts = text.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return null;
  let total = 0;
  for (const p of parts) {
    const m = /^(\d+)([SMHdwmy])$/.exec(p);
    if (!m) return null;
    total += Number(m[1]) * DURATION_UNITS[m[2]];
  }
  return total;
}

/** CPU ids in a set such as `0-3,6` or `1`; null when invalid. */
export function parseCpuSet(text: string): number[] | null {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return null;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return null;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return [...out].sort((x, y) => x - y);
}

/** A CPU set in the kernel's compact form (`0-2,5`). */
export function formatCpuSet(cpus: number[]): string {
  const s = [...cpus].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
