/** Dates as Incus prints them: Go layout `2006/01/02 15:04 MST`, local time. */
import { zoneAbbreviation } from './tz';

/** Go's zero time (`0001-01-01T00:00:00Z`), an empty string or garbage. */
export function isZeroTime(iso: string | undefined | null): boolean {
  if (!iso) return true;
  const t = Date.parse(iso);
  return Number.isNaN(t) || new Date(t).getUTCFullYear() <= 1;
}

let zoneFormat: Intl.DateTimeFormat | undefined;

/** Short name of the local zone at `d`: from the zoneinfo file, else from ICU (slow to load). */
function zoneName(d: Date): string {
  const fromFile = zoneAbbreviation(d);
  if (fromFile) return fromFile;
  zoneFormat ??= new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
  return zoneFormat.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
}

const two = (n: number) => String(n).padStart(2, '0');

/** `2024/03/23 20:00 UTC`; '' for a zero time. */
export function formatDate(iso: string | undefined | null): string {
  if (isZeroTime(iso)) return '';
  const d = new Date(iso as string);
  return `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())} ${zoneName(d)}`;
}
