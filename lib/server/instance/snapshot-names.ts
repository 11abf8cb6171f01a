/**
 * Snapshot names from `snapshots.pattern` and expiry dates from
 * `snapshots.expiry`, as Incus computes them.
 *
 * Patterns: `%d` (at most once) becomes the next free index; the template
 * `{{ creation_date|date:'LAYOUT' }}` becomes the current local time in a Go
 * time layout (2006 06 January Jan 01 1 Monday Mon 02 2 15 03 3 04 4 05 5
 * PM pm MST -0700); a name already taken gets `-N` appended.
 */

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

function offset(d: Date): string {
  const m = -d.getTimezoneOffset();
  const a = Math.abs(m);
  return `${m < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}

/** Go layout tokens, longest first so that `2006` wins over `2`. */
const TOKENS: [string, (d: Date) => string][] = [
  ['January', (d) => MONTHS[d.getMonth()]!],
  ['Monday', (d) => DAYS[d.getDay()]!],
  ['-0700', offset],
  ['2006', (d) => String(d.getFullYear())],
  ['Jan', (d) => MONTHS[d.getMonth()]!.slice(0, 3)],
  ['Mon', (d) => DAYS[d.getDay()]!.slice(0, 3)],
  ['MST', (d) => (d.getTimezoneOffset() === 0 ? 'UTC' : offset(d))],
  ['06', (d) => pad(d.getFullYear() % 100)],
  ['01', (d) => pad(d.getMonth() + 1)],
  ['02', (d) => pad(d.getDate())],
  ['15', (d) => pad(d.getHours())],
  ['03', (d) => pad(d.getHours() % 12 || 12)],
  ['04', (d) => pad(d.getMinutes())],
  ['05', (d) => pad(d.getSeconds())],
  ['PM', (d) => (d.getHours() < 12 ? 'AM' : 'PM')],
  ['pm', (d) => (d.getHours() < 12 ? 'am' : 'pm')],
  ['1', (d) => String(d.getMonth() + 1)],
  ['2', (d) => String(d.getDate())],
  ['3', (d) => String(d.getHours() % 12 || 12)],
  ['4', (d) => String(d.getMinutes())],
  ['5', (d) => String(d.getSeconds())],
];

/** Formats `d` with a Go time layout. */
export function goDate(d: Date, layout: string): string {
  let out = '';
  let i = 0;
  outer: while (i < layout.length) {
    for (const [tok, f] of TOKENS) {
      if (layout.startsWith(tok, i)) {
        out += f(d);
        i += tok.length;
        continue outer;
      }
    }
    out += layout[i];
    i++;
  }
  return out;
}

const TEMPLATE = /\{\{\s*creation_date\s*\|\s*date\s*:\s*(?:'([^']*)'|"([^"]*)")\s*\}\}/g;

/** Renders the date templates of a pattern; throws on any other template. */
export function renderPattern(pattern: string, now: Date): string {
  const out = pattern.replace(TEMPLATE, (_m, a: string | undefined, b: string | undefined) => goDate(now, a ?? b ?? ''));
  if (out.includes('{{') || out.includes('{%')) throw new Error(`Unsupported template in snapshot pattern "${pattern}"`);
  return out;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The next index for a `%d` pattern: one past the highest taken, from 0. */
function nextIndex(pattern: string, taken: readonly string[]): number {
  const [pre, post] = pattern.split('%d') as [string, string];
  const re = new RegExp(`^${escape(pre)}(\\d+)${escape(post)}$`);
  let next = 0;
  for (const n of taken) {
    const m = re.exec(n);
    if (m) next = Math.max(next, Number(m[1]) + 1);
  }
  return next;
}

/** The name a new snapshot gets from `pattern`, given the names already taken. */
export function nextSnapshotName(pattern: string, taken: readonly string[], now: Date): string {
  const rendered = renderPattern(pattern, now);
  const count = rendered.split('%d').length - 1;
  if (count > 1) throw new Error("Snapshot pattern may contain '%d' only once");
  if (count === 1) return rendered.replace('%d', String(nextIndex(rendered, taken)));
  if (!taken.includes(rendered)) return rendered;
  const dashed = `${rendered}-%d`;
  return dashed.replace('%d', String(nextIndex(dashed, taken)));
}

/**
 * The expiry of a snapshot taken at `from` for an expiry expression such as
 * `1d`, `2w` or `1d 3H` (S M H d w m y, each at most once); null for ''.
 * @throws Error "Invalid expiry expression".
 */
export function expiryFrom(from: Date, expr: string): Date | null {
  const text = expr.trim();
  if (text === '') return null;
  const seen = new Map<string, number>();
  for (const v of text.split(' ')) {
    const m = /^(\d+)(S|M|H|d|w|m|y)$/.exec(v);
    if (!m || seen.has(m[2]!)) throw new Error('Invalid expiry expression');
    seen.set(m[2]!, Number(m[1]));
  }
  const g = (k: string): number => seen.get(k) ?? 0;
  const d = new Date(from.getTime());
  d.setFullYear(d.getFullYear() + g('y'), d.getMonth() + g('m'), d.getDate() + g('d') + 7 * g('w'));
  return new Date(d.getTime() + ((g('H') * 60 + g('M')) * 60 + g('S')) * 1000);
}
