/**
 * Typed validators for config values: each returns null when the value is
 * fine and a short reason otherwise. An empty value always means "unset".
 */
import { parseCpuSet, parseDuration, parseSize } from './units';
import { parseCron } from '../cron';

export type Validator = (value: string) => string | null;

const BOOLS = new Set(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off']);

const optional =
  (v: Validator): Validator =>
  (value) =>
    value === '' ? null : v(value);

export const isAny: Validator = () => null;

export const isBool: Validator = optional((v) => (BOOLS.has(v.toLowerCase()) ? null : 'Invalid value for a boolean'));

export const isInt: Validator = optional((v) => (/^-?\d+$/.test(v) ? null : 'Invalid value for an integer'));

export const isUint: Validator = optional((v) => (/^\d+$/.test(v) ? null : 'Invalid value for an unsigned integer'));

export const inRange = (min: number, max: number): Validator =>
  optional((v) => {
    if (!/^-?\d+$/.test(v)) return 'Invalid value for an integer';
    const n = Number(v);
    return n < min || n > max ? `Value must be between ${min} and ${max}` : null;
  });

export const oneOf = (...allowed: string[]): Validator =>
  optional((v) => (allowed.includes(v) ? null : `Invalid value (must be one of: ${allowed.join(', ')})`));

export const isSize: Validator = optional((v) => (parseSize(v) === null ? 'Invalid value for a size' : null));

export const isSizeOrPercent: Validator = optional((v) => {
  if (v.endsWith('%')) {
    const n = Number(v.slice(0, -1));
    return Number.isInteger(n) && n > 0 && n <= 100 ? null : 'Invalid percentage';
  }
  return parseSize(v) === null ? 'Invalid value for a size or percentage' : null;
});

/** `limits.cpu`: a CPU count (`2`) or a set (`0-1,3`). */
export const isCpuLimit: Validator = optional((v) => {
  if (/^\d+$/.test(v)) return Number(v) > 0 ? null : 'CPU count must be positive';
  return parseCpuSet(v) === null ? 'Invalid CPU count or set' : null;
});

/** `limits.cpu.allowance`: `50%` (soft share) or `25ms/100ms` (hard quota). */
export const isCpuAllowance: Validator = optional((v) => {
  if (v.endsWith('%')) {
    const n = Number(v.slice(0, -1));
    return Number.isInteger(n) && n > 0 && n <= 100 ? null : 'Invalid CPU allowance percentage';
  }
  const m = /^(\d+)ms\/(\d+)ms$/.exec(v);
  if (!m) return 'Invalid CPU allowance (use a percentage or QUOTAms/PERIODms)';
  const [q, p] = [Number(m[1]), Number(m[2])];
  return q < 1 || p < 1 ? 'CPU allowance quota and period must be at least 1ms' : null;
});

export const isDuration: Validator = optional((v) => (parseDuration(v) === null ? 'Invalid duration' : null));

const CRON_ALIASES = new Set(['@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@annually', '@yearly', '@startup', '@never']);

/** A cron schedule (five fields) or an alias such as `@daily`; several separated by ", ". */
export const isCronSchedule: Validator = optional((v) => {
  // Several schedules are separated by ", " (a bare comma belongs to a field list).
  for (const part of v.split(', ').map((s) => s.trim())) {
    if (CRON_ALIASES.has(part)) continue;
    try {
      parseCron(part);
    } catch (err) {
      return (err as Error).message;
    }
  }
  return null;
});

/** `limits.kernel.*`: `N`, `N:M` or `unlimited`. */
export const isRlimit: Validator = optional((v) => {
  const ok = (x: string): boolean => x === 'unlimited' || /^\d+$/.test(x);
  const parts = v.split(':');
  return parts.length <= 2 && parts.every(ok) ? null : 'Invalid resource limit (N, N:M or unlimited)';
});

/** A comma-separated list of syscall names. */
export const isSyscallList: Validator = optional((v) =>
  v.split(/[\s,]+/).filter(Boolean).every((s) => /^[a-z0-9_]+$/.test(s)) ? null : 'Invalid syscall list',
);
