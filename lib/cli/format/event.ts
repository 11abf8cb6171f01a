/**
 * `incus monitor` output for one event: the yaml and json documents Incus
 * prints (the event re-encoded through a generic value, so every map comes
 * out with sorted keys and every number as a float64), and the record that
 * the pretty format hands to logrus (api.Event.ToLogging).
 */
import type * as YAML from 'yaml';
import type { Event, LifecycleEvent, LoggingEvent } from '../../api/event';
import type { Operation } from '../../api/operation';
import { StatusText } from '../../api/response';
import { goFloat, goRfc3339Nano, goTimeString, goValue } from './go-text';
import { renderJson } from './json';

/** The event as Go marshals api.Event: location and project left out when empty. */
function eventValue(ev: Event): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: ev.type,
    timestamp: goRfc3339Nano(ev.timestamp),
    metadata: ev.metadata ?? null,
  };
  if (ev.location) out.location = ev.location;
  if (ev.project) out.project = ev.project;
  return out;
}

function sortKeysWith(value: unknown, less: (a: string, b: string) => boolean): unknown {
  if (Array.isArray(value)) return value.map((v) => sortKeysWith(v, less));
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(o).sort((a, b) => (a === b ? 0 : less(a, b) ? -1 : 1));
  for (const k of keys) out[k] = sortKeysWith(o[k], less);
  return out;
}

const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);

/**
 * The order Go's yaml encoder gives map keys: letters compare by code point,
 * runs of digits by value, and a letter against anything else goes after it
 * unless a digit run precedes.
 */
export function goYamlKeyLess(a: string, b: string): boolean {
  const ar = Array.from(a);
  const br = Array.from(b);
  let digits = false;
  for (let i = 0; i < ar.length && i < br.length; i++) {
    const ca = ar[i]!;
    const cb = br[i]!;
    if (ca === cb) {
      digits = isDigit(ca);
      continue;
    }
    const al = isLetter(ca);
    const bl = isLetter(cb);
    if (al && bl) return ca.codePointAt(0)! < cb.codePointAt(0)!;
    if (al || bl) return digits ? al : bl;
    let an = 0;
    let bn = 0;
    if (ca === '0' || cb === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== '0') {
          an = bn = 1;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = an * 10 + (ar[ai]!.codePointAt(0)! - 48);
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = bn * 10 + (br[bi]!.codePointAt(0)! - 48);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ca.codePointAt(0)! < cb.codePointAt(0)!;
  }
  return ar.length < br.length;
}

const OLD_BOOLS = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);
const SPECIAL_PLAIN = new Set(['', '~', 'null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', '<<']);
const TIMESTAMP = /^\d{4}-\d{1,2}-\d{1,2}(?:(?:[Tt]\d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))|(?: \d{1,2}:\d{1,2}:\d{1,2}(?:\.\d+)?))?$/;
const GO_INT = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[0-9]+)$/;
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

/** Whether Go's yaml encoder writes this string double-quoted (its plain form would read back as something else). */
export function goYamlQuotes(s: string): boolean {
  if (SPECIAL_PLAIN.has(s) || OLD_BOOLS.has(s) || /^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$/.test(s)) return true;
  const c = s[0];
  if (c === '.') return /^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(s);
  if (c !== undefined && /[-+0-9]/.test(c)) {
    const plain = s.replace(/_/g, '');
    return TIMESTAMP.test(s) || GO_INT.test(plain) || YAML_FLOAT.test(plain) || BASE60_FLOAT.test(s);
  }
  return false;
}

/** Numbers as Go's yaml encoder writes a float64 (`strconv.FormatFloat(x, 'g', -1, 64)`). */
const goFloatTag = {
  identify: (v: unknown): boolean => typeof v === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:float',
  test: /^(?!)$/,
  resolve: (s: string): number => Number(s),
  stringify: ({ value }: { value: unknown }): string => {
    const x = value as number;
    if (Number.isNaN(x)) return '.nan';
    if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
    return goFloat(x);
  },
};

/** `incus monitor --format yaml`: one document, then the two newlines Incus adds. */
export function renderEventYaml(ev: Event): string {
  const yaml = require('yaml') as typeof YAML;
  const doc = new yaml.Document(sortKeysWith(eventValue(ev), goYamlKeyLess), {
    customTags: (tags) => [goFloatTag as unknown as YAML.ScalarTag, ...tags],
  });
  yaml.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && !node.value.includes('\n') && goYamlQuotes(node.value)) node.type = 'QUOTE_DOUBLE';
    },
  });
  return `${doc.toString({ indentSeq: false, lineWidth: 0 })}\n\n`;
}

/** `incus monitor --format json`: one line, then the blank line Incus adds. */
export function renderEventJson(ev: Event): string {
  return `${renderJson(sortKeysWith(eventValue(ev), (a, b) => a < b))}\n`;
}

/** What api.Event.ToLogging makes of an event: a log record with string context. */
export interface EventLogRecord {
  /** RFC 3339 timestamp as the server sent it. */
  time: string;
  level: string;
  message: string;
  context: Record<string, string>;
}

function stringContext(ctx: Record<string, unknown> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx ?? {})) out[k] = goValue(v);
  return out;
}

/** `map[string][]string` under `%v`: `map[]` when empty or null. */
function resourcesText(r: Record<string, string[] | null> | null | undefined): string {
  const o = r ?? {};
  return `map[${Object.keys(o)
    .sort()
    .map((k) => `${k}:[${(o[k] ?? []).join(' ')}]`)
    .join(' ')}]`;
}

/**
 * The log record of a logging, lifecycle or operation event.
 * @throws Error `Not supported event type: <type>` for any other type.
 */
export function eventLogRecord(ev: Event): EventLogRecord {
  const type = ev.type as string;
  if (type === 'logging' || type === 'network-acl') {
    const m = (ev.metadata ?? {}) as Partial<LoggingEvent>;
    return { time: ev.timestamp, level: m.level ?? '', message: m.message ?? '', context: stringContext(m.context) };
  }
  if (type === 'lifecycle') {
    const m = (ev.metadata ?? {}) as Partial<LifecycleEvent>;
    let message = `Action: ${m.action ?? ''}, Source: ${m.source ?? ''}`;
    if (m.requestor) message += `, Requestor: ${m.requestor.protocol ?? ''}/${m.requestor.username ?? ''} (${m.requestor.address ?? ''})`;
    return { time: ev.timestamp, level: 'info', message, context: stringContext(m.context) };
  }
  if (type === 'operation') {
    const op = (ev.metadata ?? {}) as Partial<Operation>;
    const zero = '0001-01-01T00:00:00Z';
    return {
      time: ev.timestamp,
      level: 'info',
      message: `ID: ${op.id ?? ''}, Class: ${op.class ?? ''}, Description: ${op.description ?? ''}`,
      context: {
        CreatedAt: goTimeString(op.created_at ?? zero),
        UpdatedAt: goTimeString(op.updated_at ?? zero),
        Status: op.status ?? '',
        StatusCode: StatusText[op.status_code ?? 0] ?? '',
        Resources: resourcesText(op.resources as Record<string, string[] | null> | null | undefined),
        Metadata: op.metadata ? goValue(op.metadata) : 'map[]',
        MayCancel: op.may_cancel ? 'true' : 'false',
        Err: op.err ?? '',
        Location: op.location ?? '',
      },
    };
  }
  throw new Error(`Not supported event type: ${type}`);
}
