/**
 * Log lines as logrus's TextFormatter writes them with FullTimestamp and
 * PadLevelText (what `incus monitor --pretty` uses): `key=value` pairs when
 * the output is not a terminal, a coloured level column on a terminal.
 */
import { goQuote, goRfc3339 } from './go-text';

/** logrus levels, most severe first (lower is more severe). */
export const LOG_LEVELS = ['panic', 'fatal', 'error', 'warning', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * logrus.ParseLevel: the level named by `text`, case-insensitive, `warn`
 * accepted for `warning`.
 * @throws Error `not a valid logrus Level: "<text>"`.
 */
export function parseLogLevel(text: string): LogLevel {
  const lower = text.toLowerCase();
  const name = lower === 'warn' ? 'warning' : lower;
  if ((LOG_LEVELS as readonly string[]).includes(name)) return name as LogLevel;
  throw new Error(`not a valid logrus Level: ${goQuote(text)}`);
}

/** Whether a message at `level` passes a minimum of `min`. */
export function levelPasses(level: LogLevel, min: LogLevel): boolean {
  return LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(min);
}

/** One entry to format. */
export interface LogEntry {
  /** RFC 3339 timestamp. */
  time: string;
  level: LogLevel;
  message: string;
  fields: Record<string, string>;
}

const COLORS: Record<LogLevel, number> = { panic: 31, fatal: 31, error: 31, warning: 33, info: 36, debug: 37, trace: 37 };
const LEVEL_WIDTH = Math.max(...LOG_LEVELS.map((l) => l.length));

function needsQuoting(text: string): boolean {
  return /[^a-zA-Z0-9\-._/@^+]/.test(text);
}

function value(text: string): string {
  return needsQuoting(text) ? goQuote(text) : text;
}

/** Fields named like the fixed ones are renamed `fields.<name>`, as logrus does. */
function clearClashes(fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[['time', 'msg', 'level', 'logrus_error'].includes(k) ? `fields.${k}` : k] = v;
  }
  return out;
}

/** Go's `%-44s`: padded to 44 runes. */
function padRunes(s: string, width: number): string {
  const n = Array.from(s).length;
  return n >= width ? s : s + ' '.repeat(width - n);
}

/** The line logrus writes for `e`, newline included. */
export function renderLogText(e: LogEntry, colored: boolean): string {
  const fields = clearClashes(e.fields);
  const keys = Object.keys(fields).sort();
  const time = goRfc3339(e.time);
  if (colored) {
    const c = COLORS[e.level];
    const level = e.level.toUpperCase().padEnd(LEVEL_WIDTH);
    const message = e.message.endsWith('\n') ? e.message.slice(0, -1) : e.message;
    let line = `\x1b[${c}m${level}\x1b[0m[${time}] ${padRunes(message, 44)} `;
    for (const k of keys) line += ` \x1b[${c}m${k}\x1b[0m=${value(fields[k]!)}`;
    return `${line}\n`;
  }
  const pairs: string[] = [`time=${value(time)}`, `level=${e.level}`];
  if (e.message !== '') pairs.push(`msg=${value(e.message)}`);
  for (const k of keys) pairs.push(`${k}=${value(fields[k]!)}`);
  return `${pairs.join(' ')}\n`;
}
