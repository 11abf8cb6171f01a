/**
 * `snapshots.schedule` as Incus reads it: one cron expression or alias, or
 * several separated by ", ". Aliases run at a minute (and hour) derived
 * from the instance id, so that instances do not all snapshot at once.
 */
import { type CronSchedule, parseCron } from './cron';

const ALIASES: Record<string, (m: number, h: number) => string | null> = {
  '@hourly': (m) => `${m} * * * *`,
  '@daily': (m, h) => `${m} ${h} * * *`,
  '@midnight': (m) => `${m} 0 * * *`,
  '@weekly': (m, h) => `${m} ${h} * * 0`,
  '@monthly': (m, h) => `${m} ${h} 1 * *`,
  '@annually': (m, h) => `${m} ${h} 1 1 *`,
  '@yearly': (m, h) => `${m} ${h} 1 1 *`,
  '@never': () => null,
  // Taken when the instance starts (snapshots.ts), never by the clock.
  '@startup': () => null,
};

/** A stable minute and hour for a subject (an instance id): FNV-1a of its decimal form. */
export function spreadFor(subjectId: number): { minute: number; hour: number } {
  let h = 0x811c9dc5;
  for (const ch of String(subjectId)) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return { minute: h % 60, hour: (h >>> 8) % 24 };
}

/** The cron expressions a schedule stands for (aliases expanded; @never gives none). */
export function cronSpecs(spec: string, subjectId: number): string[] {
  const parts = spec.includes(', ') ? spec.split(',').map((s) => s.trim()).filter((s) => s !== '') : [spec.trim()];
  const { minute, hour } = spreadFor(subjectId);
  const out: string[] = [];
  for (const p of parts) {
    const alias = ALIASES[p.toLowerCase()];
    const expr = alias ? alias(minute, hour) : p;
    if (expr) out.push(expr);
  }
  return out;
}

/** Parses a whole schedule; throws on the first invalid expression. */
export function parseSchedule(spec: string, subjectId: number): CronSchedule {
  const schedules = cronSpecs(spec, subjectId).map(parseCron);
  return { matches: (at) => schedules.some((s) => s.matches(at)) };
}
