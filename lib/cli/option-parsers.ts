/** Value parsers for commander options. */
import { InvalidArgumentError } from 'commander';

/** Collects a repeatable commander option into an array. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses an integer option value (commander argParser). */
export function parseIntOption(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('Not an integer.');
  return Number.parseInt(value, 10);
}
