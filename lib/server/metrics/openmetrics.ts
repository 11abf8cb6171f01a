/**
 * A set of metric samples and its OpenMetrics text, as Incus's MetricSet
 * (internal/server/metrics/metrics.go): families in Incus's order, each with
 * `# HELP` and `# TYPE` lines, labels sorted by name, values formatted as
 * Go's strconv.FormatFloat(v, 'g', -1, 64), and a closing `# EOF`.
 */
import { METRICS, METRIC_ORDER, type MetricKey } from './names';

export type Labels = Record<string, string>;

export interface Sample {
  labels: Labels;
  value: number;
}

export class MetricSet {
  private readonly samples = new Map<MetricKey, Sample[]>();

  /** @param labels added to every sample given to add() (an instance's name, project and type). */
  constructor(private readonly labels: Labels = {}) {}

  add(key: MetricKey, value: number, labels: Labels = {}): void {
    const sample = { labels: { ...labels, ...this.labels }, value };
    const list = this.samples.get(key);
    if (list) list.push(sample);
    else this.samples.set(key, [sample]);
  }

  /** Appends another set's samples; labels of this set that they lack are added (Incus's Merge). */
  merge(other: MetricSet | null | undefined): void {
    if (!other) return;
    for (const [key, list] of other.samples) {
      for (const s of list) this.addSample(key, { labels: { ...this.labels, ...s.labels }, value: s.value });
    }
  }

  /** A copy holding only the samples `keep` accepts. */
  filter(keep: (s: Sample) => boolean): MetricSet {
    const out = new MetricSet();
    for (const [key, list] of this.samples) for (const s of list) if (keep(s)) out.addSample(key, s);
    return out;
  }

  /** Samples of one family, for tests and callers that read values back. */
  get(key: MetricKey): readonly Sample[] {
    return this.samples.get(key) ?? [];
  }

  /** The OpenMetrics text. A family with no samples left still prints its HELP and TYPE, as Incus does. */
  render(): string {
    const keys = [...this.samples.keys()].sort((a, b) => METRIC_ORDER.get(a)! - METRIC_ORDER.get(b)!);
    const out: string[] = [];
    for (const key of keys) {
      const f = METRICS[key];
      out.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
      for (const s of this.samples.get(key)!) {
        const names = Object.keys(s.labels).sort();
        const labels = names.map((n) => `${n}="${escapeLabel(s.labels[n]!)}"`).join(',');
        out.push(labels ? `${f.name}{${labels}} ${formatValue(s.value)}\n` : `${f.name} ${formatValue(s.value)}\n`);
      }
    }
    out.push('# EOF\n');
    return out.join('');
  }

  private addSample(key: MetricKey, s: Sample): void {
    const list = this.samples.get(key);
    if (list) list.push(s);
    else this.samples.set(key, [s]);
  }
}

/** OpenMetrics label value escaping (backslash, double quote, line feed). */
function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

/**
 * Go's strconv.FormatFloat(v, 'g', -1, 64): the shortest digits that read
 * back as v, in exponent form when the decimal exponent is below -4 or at
 * least 6 (1234567 -> "1.234567e+06", 60.5 -> "60.5").
 */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, expText] = v.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  // Within this range JavaScript prints the same shortest digits without an exponent.
  return String(v);
}
