/**
 * A small five-field cron matcher (minute hour day-of-month month
 * day-of-week), behind an interface so a well-kept library can replace it.
 * Supports `*`, numbers, ranges `a-b`, steps `*\/n` and `a-b/n`, lists, month
 * and weekday names (`jan`, `mon`), 7 as Sunday, and the classic rule that a
 * restricted day-of-month OR a restricted day-of-week matches. Times are the
 * daemon's local time, as cron's are.
 */

/** A parsed schedule: whether it fires in the minute holding `at`. */
export interface CronSchedule {
  matches(at: Date): boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  min: number;
  max: number;
  names?: string[];
  /** Offset of names[0]: 1 for months, 0 for weekdays. */
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { min: 0, max: 7, names: DAYS, nameBase: 0 },
];

function value(text: string, f: FieldSpec, expr: string): number {
  const named = f.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (f.nameBase ?? 0);
  if (!/^\d+$/.test(text)) throw new Error(`Invalid cron expression "${expr}": bad value "${text}"`);
  const n = Number(text);
  if (n < f.min || n > f.max) throw new Error(`Invalid cron expression "${expr}": ${n} is out of range ${f.min}-${f.max}`);
  return n;
}

/** The set of values one field allows, and whether it was `*` (unrestricted). */
function parseField(text: string, f: FieldSpec, expr: string): { set: Set<number>; star: boolean } {
  const set = new Set<number>();
  let star = false;
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    if (range === undefined || range === '') throw new Error(`Invalid cron expression "${expr}": empty field`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`Invalid cron expression "${expr}": bad step "${stepText}"`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = f.min;
      hi = f.max;
      if (stepText === undefined) star = true;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = value(a ?? '', f, expr);
      hi = value(b ?? '', f, expr);
      if (lo > hi) throw new Error(`Invalid cron expression "${expr}": range ${range} runs backwards`);
    } else {
      lo = value(range, f, expr);
      hi = stepText === undefined ? lo : f.max;
    }
    for (let v = lo; v <= hi; v += step) set.add(v);
  }
  return { set, star };
}

/** Parses a five-field expression; throws an Error naming the problem. */
export function parseCron(expr: string): CronSchedule {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`Invalid cron expression "${expr}": expected 5 fields`);
  const [minute, hour, dom, month, dow] = parts.map((p, i) => parseField(p, FIELDS[i]!, expr));
  if (dow!.set.has(7)) dow!.set.add(0);
  return {
    matches(at: Date): boolean {
      if (!minute!.set.has(at.getMinutes()) || !hour!.set.has(at.getHours()) || !month!.set.has(at.getMonth() + 1)) return false;
      const domOk = dom!.set.has(at.getDate());
      const dowOk = dow!.set.has(at.getDay());
      if (dom!.star || dow!.star) return domOk && dowOk;
      return domOk || dowOk;
    },
  };
}
