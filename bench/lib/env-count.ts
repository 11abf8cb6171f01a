/** Container counts read from the environment, checked before any work starts. */

/**
 * `raw` (the value of the variable `name`) as a positive integer, or
 * `fallback` when unset or empty; throws RangeError otherwise.
 */
export function positiveCount(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got "${raw}"`);
  return n;
}
