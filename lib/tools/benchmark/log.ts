/** incus-benchmark's progress lines: `[Jan _2 15:04:05.000] message`, Go's StampMilli, local time. */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `Jan _2 15:04:05.000` for `d`. */
export function stampMilli(d: Date): string {
  const day = String(d.getDate()).padStart(2, ' ');
  return `${MONTHS[d.getMonth()]} ${day} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** Prints one progress line on stdout. */
export function logf(message: string): void {
  process.stdout.write(`[${stampMilli(new Date())}] ${message}\n`);
}
