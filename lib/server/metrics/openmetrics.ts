/**
 * A set of metric samples and its OpenMetrics text, as Incus's MetricSet
 * (internal/server/metrics/metrics.go): families in Incus's order, each with
 * `# HELP` and `# TYPE` lines, labels sorted by name, values formatted as
 * Go's strconv.FormatFloat(v, 'g', -1, 64), and a closing `# EOF`. A
 * scrape's instance samples go straight to text (MetricText): a thousand
 * instances make tens of thousands of samples, and objects for each would
 * cost the collector more than all the rest of the scrape.
 */
import { METRICS, METRIC_ORDER, type MetricKey } from './names';

export type Labels = Record<string, string>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

/** Where samples go: a MetricSet, or a MetricText's labelled sink. */
export interface MetricSink {
  add(key: MetricKey, value: number, labels?: Labels): void;
}

/** A set's own labels, sorted and escaped once for all its samples. */
class BaseLabels {
  readonly keys: string[];
  readonly parts: string[];
  /** The parts joined: the label text of a sample with no labels of its own. */
  readonly text: string;

  constructor(readonly labels: Labels) {
    this.keys = Object.keys(labels).sort();
    this.parts = this.keys.map((k) => labelPart(k, labels[k]!));
    this.text = this.parts.join(',');
  }
}

const NO_LABELS = new BaseLabels({});
/** The labels of a sample that has none of its own (one object, not one per sample). */
const NONE: Labels = Object.freeze({});

/** A sample of a MetricSet: its label text (`a="1",b="2"`, names sorted) is built when it is added, so merged sets share samples. */
class StoredSample implements Sample {
  constructor(
    private readonly own: Labels,
    private readonly base: BaseLabels,
    readonly value: number,
    readonly text: string,
  ) {}

  /** The sample's labels and its set's, the set's winning (Incus's MetricSet.AddSamples). */
  get labels(): Labels {
    return this.base === NO_LABELS ? this.own : { ...this.own, ...this.base.labels };
  }
}

/** Label text of `own` plus `base`, names sorted; `base` wins a name both have. */
function labelText(own: Labels, base: BaseLabels): string {
  const keys = Object.keys(own);
  if (keys.length === 0) return base.text;
  // Callers pass their labels in name order; sorting would copy the array.
  for (let k = 1; k < keys.length; k++) {
    if (keys[k - 1]! > keys[k]!) {
      keys.sort();
      break;
    }
  }
  let out = '';
  let i = 0;
  let j = 0;
  while (i < keys.length || j < base.keys.length) {
    let part: string;
    const a = keys[i];
    const b = base.keys[j];
    if (b === undefined || (a !== undefined && a < b)) {
      part = cachedPart(a!, own[a!]!);
      i++;
    } else {
      if (a === b) i++;
      part = base.parts[j]!;
      j++;
    }
    out = out === '' ? part : `${out},${part}`;
  }
  return out;
}

/** Each family's line starts: `name{` and `name `. */
const STARTS: ReadonlyMap<MetricKey, { open: string; bare: string }> = new Map(
  (Object.keys(METRICS) as MetricKey[]).map((k) => [k, { open: `${METRICS[k].name}{`, bare: `${METRICS[k].name} ` }]),
);

/**
 * Samples kept only as the parts of their lines, family by family, joined
 * when rendered: what a scrape builds for one project's instances.
 */
export class MetricText {
  private readonly families = new Map<MetricKey, string[]>();

  /** A sink whose samples all carry `labels` (an instance's name, project and type). */
  labelled(labels: Labels): MetricSink {
    const base = new BaseLabels(labels);
    return { add: (key, value, own = NONE) => this.line(key, labelText(own, base), value) };
  }

  /** The families it has samples of. */
  keys(): IterableIterator<MetricKey> {
    return this.families.keys();
  }

  /** The lines of a family ('' without samples). */
  lines(key: MetricKey): string {
    return this.families.get(key)?.join('') ?? '';
  }

  private line(key: MetricKey, text: string, value: number): void {
    let parts = this.families.get(key);
    if (!parts) this.families.set(key, (parts = []));
    const start = STARTS.get(key)!;
    if (text === '') parts.push(start.bare, formatValue(value), '\n');
    else parts.push(start.open, text, '} ', formatValue(value), '\n');
  }
}

export class MetricSet implements MetricSink {
  private readonly samples = new Map<MetricKey, StoredSample[]>();
  private readonly texts: MetricText[] = [];
  private readonly base: BaseLabels;

  /** @param labels added to every sample given to add() (an instance's name, project and type). */
  constructor(labels: Labels = {}) {
    this.base = Object.keys(labels).length === 0 ? NO_LABELS : new BaseLabels(labels);
  }

  add(key: MetricKey, value: number, labels: Labels = NONE): void {
    this.store(key, new StoredSample(labels, this.base, value, labelText(labels, this.base)));
  }

  /** Appends another set's samples; labels of this set that they lack are added (Incus's Merge). */
  merge(other: MetricSet | null | undefined): void {
    if (!other) return;
    if (other.texts.length > 0) {
      if (this.base !== NO_LABELS) throw new TypeError('samples held as text merge only into a set without labels');
      this.texts.push(...other.texts);
    }
    for (const [key, list] of other.samples) {
      if (this.base === NO_LABELS) {
        // Nothing to add to them: the samples are shared, not copied.
        const mine = this.samples.get(key);
        if (mine) for (const s of list) mine.push(s);
        else this.samples.set(key, list.slice());
        continue;
      }
      for (const s of list) {
        const labels = { ...this.base.labels, ...s.labels };
        this.store(key, new StoredSample(labels, NO_LABELS, s.value, labelText(labels, NO_LABELS)));
      }
    }
  }

  /** Adds samples held as text (rendered after this set's own samples of each family). */
  mergeText(text: MetricText): void {
    if (this.base !== NO_LABELS) throw new TypeError('samples held as text merge only into a set without labels');
    this.texts.push(text);
  }

  /** Samples of one family (not those held as text), for tests and callers that read values back. */
  get(key: MetricKey): readonly Sample[] {
    return this.samples.get(key) ?? [];
  }

  /** The OpenMetrics text. A family with no samples left still prints its HELP and TYPE, as Incus does. */
  render(): string {
    const all = new Set(this.samples.keys());
    for (const t of this.texts) for (const k of t.keys()) all.add(k);
    const keys = [...all].sort((a, b) => METRIC_ORDER.get(a)! - METRIC_ORDER.get(b)!);
    const out: string[] = [];
    for (const key of keys) {
      const f = METRICS[key];
      out.push(`# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n`);
      for (const s of this.samples.get(key) ?? []) {
        out.push(s.text === '' ? `${f.name} ${formatValue(s.value)}\n` : `${f.name}{${s.text}} ${formatValue(s.value)}\n`);
      }
      for (const t of this.texts) out.push(t.lines(key));
    }
    out.push('# EOF\n');
    return out.join('');
  }

  private store(key: MetricKey, s: StoredSample): void {
    const list = this.samples.get(key);
    if (list) list.push(s);
    else this.samples.set(key, [s]);
  }
}

/** Label parts of samples' own labels (cpu="0", mode="user", device="eth0"), by name and value: the same few recur in every instance. */
const PARTS = new Map<string, Map<string, string>>();
const PARTS_PER_NAME = 4096;

function cachedPart(name: string, value: string): string {
  let byValue = PARTS.get(name);
  if (!byValue) PARTS.set(name, (byValue = new Map()));
  let part = byValue.get(value);
  if (part === undefined) {
    // Bounded: values that do not recur (mount points of many instances) only cost a rebuild.
    if (byValue.size >= PARTS_PER_NAME) byValue.clear();
    byValue.set(value, (part = labelPart(name, value)));
  }
  return part;
}

function labelPart(name: string, value: string): string {
  return `${name}="${escapeLabel(value)}"`;
}

const NEEDS_ESCAPE = /[\\"\n]/;

/** OpenMetrics label value escaping (backslash, double quote, line feed). */
function escapeLabel(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
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
  const abs = Math.abs(v);
  // Within this range JavaScript prints the same shortest digits without an exponent.
  if (abs >= 1e-4 && abs < 1e6) return String(v);
  // Whole numbers (byte counts, mostly) print all their digits below 1e21: the exponent form is made from those.
  if (abs < 1e21 && Number.isInteger(abs)) {
    const d = String(abs);
    let end = d.length;
    while (end > 1 && d.charCodeAt(end - 1) === 48) end--;
    const exp = d.length - 1;
    return `${v < 0 ? '-' : ''}${d[0]}${end > 1 ? `.${d.slice(1, end)}` : ''}e+${exp < 10 ? '0' : ''}${exp}`;
  }
  const [mantissa, expText] = v.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${mantissa}e${sign}${digits}`;
  }
  return String(v);
}
