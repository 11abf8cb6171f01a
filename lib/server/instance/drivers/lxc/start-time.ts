/** Process start times: /proc/PID/stat counts clock ticks after boot. */
import { readFileSync } from 'node:fs';

/** USER_HZ: the unit of /proc tick counts, fixed at 100 on Linux whatever the kernel's HZ. */
const TICKS_PER_SECOND = 100;

let bootSeconds = -1;

/** Boot time in seconds since the epoch (btime in /proc/stat), read once. */
function bootTime(): number {
  if (bootSeconds < 0) {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    bootSeconds = m ? Number(m[1]) : 0;
  }
  return bootSeconds;
}

/** Seconds since the epoch of a start `ticks` after boot; undefined when ticks is unknown (< 0). */
export function bootRelativeSeconds(ticks: number): number | undefined {
  return ticks < 0 ? undefined : bootTime() + ticks / TICKS_PER_SECOND;
}

/** ISO 8601 time of a start `ticks` after boot; undefined when ticks is unknown (< 0). */
export function bootRelative(ticks: number): string | undefined {
  const s = bootRelativeSeconds(ticks);
  return s === undefined ? undefined : new Date(s * 1000).toISOString();
}
