/**
 * Typed validators for config values: each returns null when the value is
 * fine and a short reason otherwise. An empty value always means "unset".
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseDuration, parseSize } from './units';
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

/**
 * Why `limits.cpu` value v can never be met on a host that can have
 * `possible` CPUs (null when fine): a count (`2`) or a set (`0-1,3`), as
 * Incus's IsValidCPUSet, plus the host bound. Ranges are checked without
 * expanding them, so "0-4000000000" costs nothing.
 */
export function cpuLimitProblem(v: string, possible: number): string | null {
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1) return `Invalid cpuset value: ${v}`;
    if (n > possible) return `CPU count ${v} is more than this host can ever have (${possible})`;
    return null;
  }
  const seen = new Set<number>();
  for (const part of v.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return 'Invalid CPU limit syntax';
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a) return `Invalid cpuset value: ${v}`;
    if (b >= possible) return `CPU ${b} does not exist on this host (CPUs 0-${possible - 1})`;
    for (let i = a; i <= b; i++) {
      if (seen.has(i)) return 'Cannot define CPU multiple times';
      seen.add(i);
    }
  }
  return null;
}

let possibleCpus: number | undefined;

/** CPUs this host can ever have (/sys/devices/system/cpu/possible, e.g. "0-63"), read once. */
function hostPossibleCpus(): number {
  if (possibleCpus === undefined) {
    try {
      const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
      possibleCpus = Math.max(...text.split(',').map((r) => Number(r.split('-').pop()))) + 1;
    } catch {
      possibleCpus = NaN;
    }
    if (!Number.isFinite(possibleCpus) || possibleCpus < 1) possibleCpus = Math.max(1, availableParallelism());
  }
  return possibleCpus;
}

/** `limits.cpu`: a CPU count (`2`) or a set (`0-1,3`) this host can meet. */
export const isCpuLimit: Validator = optional((v) => cpuLimitProblem(v, hostPossibleCpus()));

/**
 * `linux.kernel_modules`: comma-separated module names (Incus passes each
 * to modprobe; a path or option there would mean something else).
 */
export const isKernelModuleList: Validator = optional((v) => {
  for (const name of v.split(',').map((m) => m.trim())) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) return `Invalid kernel module name ${JSON.stringify(name)}`;
  }
  return null;
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

/**
 * Why `name` cannot be an environment variable, or null: setenv(3) refuses
 * an empty name or one with "=", and a control character (a line break
 * above all) would corrupt the container's config file.
 */
export function environmentNameProblem(name: string): string | null {
  if (name === '') return 'Environment variable name cannot be empty';
  if (name.includes('=')) return 'Environment variable name cannot contain "="';
  if (/[\x00-\x1f\x7f]/.test(name)) return 'Environment variable name cannot contain control characters';
  return null;
}

/** `environment.*` values: no line breaks (as Incus) and no NUL (exec refuses it). */
export const isEnvironmentValue: Validator = (v) => {
  if (/[\r\n]/.test(v)) return 'Environment variables cannot contain line breaks';
  if (v.includes('\0')) return 'Environment variables cannot contain NUL bytes';
  return null;
};
