/**
 * Cron schedules for snapshots.schedule, parsed by the cron-parser package
 * (five fields, names, ranges, steps, lists, 7 as Sunday). A schedule
 * "matches" a minute when its next fire time after the minute before is that
 * minute. Times are the daemon's local time, as cron's are.
 */
import { CronExpressionParser } from 'cron-parser';

/** A parsed schedule: whether it fires in the minute holding `at`. */
export interface CronSchedule {
  matches(at: Date): boolean;
}

const MINUTE = 60_000;

/** Parses a five-field expression; throws an Error naming the problem. */
export function parseCron(expr: string): CronSchedule {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`Invalid cron expression "${expr}": expected 5 fields`);
  try {
    CronExpressionParser.parse(expr);
  } catch (err) {
    throw new Error(`Invalid cron expression "${expr}": ${(err as Error).message}`);
  }
  return {
    matches(at: Date): boolean {
      const minute = Math.floor(at.getTime() / MINUTE) * MINUTE;
      const next = CronExpressionParser.parse(expr, { currentDate: new Date(minute - 1) }).next().toDate();
      return next.getTime() === minute;
    },
  };
}
