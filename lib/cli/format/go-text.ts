/**
 * Go's text forms of values decoded from JSON, for output that Incus builds
 * with fmt and the time package: `%v` of float64 / maps / slices, `%q`,
 * RFC 3339 and `time.Time.String()` renderings of a timestamp.
 */
import { goRfc3339Nano, offsetText, parseRfc3339 } from '../../api/go-time';

export { goRfc3339Nano };

/**
 * `strconv.FormatFloat(x, 'g', -1, 64)`: shortest digits, exponent form when
 * the exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`).
 */
export function goFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp >= -4 && exp < 6) return String(x);
  const digits = String(Math.abs(exp)).padStart(2, '0');
  return `${mantissa}e${exp < 0 ? '-' : '+'}${digits}`;
}

/** `fmt.Sprintf("%v", v)` of a value decoded from JSON into `any`. */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(goValue).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${goValue(o[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

/** strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** `strconv.Quote(s)` (Go's `%q`): printable runes kept, the rest escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const simple = SIMPLE_ESCAPES[ch];
    if (simple !== undefined) {
      out += simple;
      continue;
    }
    if (PRINTABLE.test(ch)) {
      out += ch;
      continue;
    }
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** `t.Format(time.RFC3339)`: whole seconds. */
export function goRfc3339(ts: string): string {
  const p = parseRfc3339(ts);
  if (!p) return ts;
  return `${p.date}T${p.clock}${p.offset === 0 ? 'Z' : offsetText(p.offset, true)}`;
}

/**
 * `t.String()` of a decoded timestamp: `2006-01-02 15:04:05.999999999 -0700 MST`,
 * the zone named `UTC` at a zero offset and written as the offset otherwise
 * (a fixed zone without a name).
 */
export function goTimeString(ts: string): string {
  const p = parseRfc3339(ts);
  if (!p) return ts;
  const frac = p.fraction ? `.${p.fraction}` : '';
  const off = offsetText(p.offset, false);
  return `${p.date} ${p.clock}${frac} ${off} ${p.offset === 0 ? 'UTC' : off}`;
}
