/** Helpers shared by the `storage` commands: key=value arguments, byte sizes. */
import { pairsToMap, parseKeyValuesLeft, tooManyArguments } from '../config-args';

/** key=value arguments (at least `min`). */
export function keyValues(args: readonly string[], min: number): Record<string, string> {
  const kv = parseKeyValuesLeft(args, min);
  if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
  return pairsToMap(kv.pairs, { isTerminal: () => true, read: () => '' });
}

/** Bytes as Incus's CLI prints them (binary units, two decimals). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n}B` : `${v.toFixed(2)}${units[i]}`;
}
