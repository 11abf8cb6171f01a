/**
 * One event as a Loki entry, as Incus's loki driver builds it: labels
 * `app`, `type`, `location`, `instance` (+ `name`/`project` of lifecycle
 * events, + the context keys named in `loki.labels`), and a line of the
 * remaining context as `key="value"` pairs before the action or message.
 */
import type { LokiConfig } from './config';

export type LabelSet = Record<string, string>;

export interface LokiEntry {
  labels: LabelSet;
  /** Nanoseconds since the epoch, as Loki wants it (a decimal string). */
  ts: string;
  line: string;
}

interface EventIn {
  type: string;
  timestamp: string;
  location?: string;
  metadata: unknown;
}

/** logrus's order: a lower number is more severe. */
const LEVEL_RANK: Record<string, number> = { panic: 0, fatal: 1, error: 2, warn: 3, warning: 3, info: 4, debug: 5, trace: 6 };

/** Nested maps flattened to `prefix-key` (Incus's buildNestedContext). */
function flatten(prefix: string, m: Record<string, unknown>, out: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(m ?? {})) {
    const key = prefix ? `${prefix}-${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(key, v as Record<string, unknown>, out);
    else out[key] = Array.isArray(v) ? `[${v.join(' ')}]` : String(v);
  }
  return out;
}

function toNanos(iso: string): string {
  const ms = Date.parse(iso);
  return (BigInt(Number.isFinite(ms) ? ms : Date.now()) * 1_000_000n).toString();
}

/** Whether the event passes `loki.types` and `loki.loglevel`. */
export function wanted(cfg: LokiConfig, ev: EventIn): boolean {
  if (ev.type === 'lifecycle') return cfg.types.includes('lifecycle');
  if (ev.type !== 'logging') return false;
  if (!cfg.types.includes('logging')) return false;
  const level = String((ev.metadata as { level?: string }).level ?? 'info');
  return (LEVEL_RANK[level] ?? 4) <= (LEVEL_RANK[cfg.level] ?? 4);
}

/** Moves the context keys named in `loki.labels` to labels (never overriding one), hyphens made underscores. */
function promote(cfg: LokiConfig, labels: LabelSet, ctx: Record<string, string>): void {
  for (const k of Object.keys(ctx).sort()) {
    if (!cfg.labels.includes(k)) continue;
    const name = k.replace(/-/g, '_');
    if (labels[name] !== undefined) continue;
    labels[name] = ctx[k]!;
    delete ctx[k];
  }
}

const pairs = (ctx: Record<string, string>): string =>
  Object.keys(ctx)
    .sort()
    .map((k) => `${k}=${JSON.stringify(ctx[k])} `)
    .join('');

export function toEntry(cfg: LokiConfig, ev: EventIn): LokiEntry | null {
  if (!wanted(cfg, ev)) return null;
  const labels: LabelSet = { app: 'incus', type: ev.type, location: cfg.location || ev.location || 'none', instance: cfg.instance };
  const ctx: Record<string, string> = {};
  let line: string;
  if (ev.type === 'lifecycle') {
    const md = ev.metadata as { action?: string; source?: string; name?: string; project?: string; context?: Record<string, unknown>; requestor?: { address?: string; protocol?: string; username?: string } };
    if (md.name) labels.name = md.name;
    if (md.project) labels.project = md.project;
    ctx.action = md.action ?? '';
    ctx.source = md.source ?? '';
    Object.assign(ctx, flatten('context', md.context ?? {}));
    if (md.requestor) {
      ctx['requester-address'] = md.requestor.address ?? '';
      ctx['requester-protocol'] = md.requestor.protocol ?? '';
      ctx['requester-username'] = md.requestor.username ?? '';
    }
    promote(cfg, labels, ctx);
    line = `${pairs(ctx)}${md.action ?? ''}`;
  } else {
    const md = ev.metadata as { message?: string; level?: string; context?: Record<string, unknown> };
    ctx.level = md.level ?? '';
    Object.assign(ctx, flatten('context', md.context ?? {}));
    promote(cfg, labels, ctx);
    line = `${pairs(ctx)}${md.message ?? ''}`;
  }
  return { labels, ts: toNanos(ev.timestamp), line };
}
