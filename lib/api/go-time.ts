/**
 * Timestamps as Incus puts them on the wire: Go's `time.Time` in JSON is
 * RFC 3339 with nanoseconds, trailing zeros dropped, and keeps the offset it
 * was given (`Z` for a zero offset). Shared by the server, which hands back
 * an expiry as it was set, and the CLI, which prints times as Go does.
 */

/** The parts of an RFC 3339 timestamp. */
export interface TimeParts {
  date: string;
  clock: string;
  /** Fraction digits with trailing zeros removed ('' for none). */
  fraction: string;
  /** Offset east of UTC in minutes. */
  offset: number;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** The parts of `ts`, or null when it is not RFC 3339. */
export function parseRfc3339(ts: string): TimeParts | null {
  const m = RFC3339.exec(ts);
  if (!m) return null;
  const offset = m[4] ? 0 : (m[5] === '-' ? -1 : 1) * (Number(m[6]) * 60 + Number(m[7]));
  return { date: m[1]!, clock: m[2]!, fraction: (m[3] ?? '').replace(/0+$/, ''), offset };
}

/** `+hh:mm` (or `+hhmm` without the colon) for an offset in minutes. */
export function offsetText(offset: number, colon: boolean): string {
  const a = Math.abs(offset);
  const hh = String(Math.floor(a / 60)).padStart(2, '0');
  const mm = String(a % 60).padStart(2, '0');
  return `${offset < 0 ? '-' : '+'}${hh}${colon ? ':' : ''}${mm}`;
}

/**
 * A timestamp as Go re-encodes a decoded `time.Time` in JSON. Text that is
 * not RFC 3339 comes back unchanged.
 */
export function goRfc3339Nano(ts: string): string {
  const p = parseRfc3339(ts);
  if (!p) return ts;
  const frac = p.fraction ? `.${p.fraction}` : '';
  return `${p.date}T${p.clock}${frac}${p.offset === 0 ? 'Z' : offsetText(p.offset, true)}`;
}
