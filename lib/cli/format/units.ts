/** Byte sizes as Incus's shared/units prints them. */

function scaled(input: number, precision: number, base: number, units: string[], last: string): string {
  if (input < base) return `${Math.trunc(input)}B`;
  let value = input;
  for (const unit of units) {
    value /= base;
    if (value < base) return `${value.toFixed(precision)}${unit}`;
  }
  return `${value.toFixed(precision)}${last}`;
}

/** IEC units: `1.50MiB` (GetByteSizeStringIEC). */
export function byteSizeIEC(input: number, precision = 2): string {
  return scaled(input, precision, 1024, ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'], 'EB');
}

/** SI units: `1.50MB` (GetByteSizeString). */
export function byteSizeSI(input: number, precision = 2): string {
  return scaled(input, precision, 1000, ['kB', 'MB', 'GB', 'TB', 'PB', 'EB'], 'EB');
}
