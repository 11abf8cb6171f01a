/**
 * The local zone's abbreviation (`UTC`, `CET`, `EDT`) as Go prints it for
 * `MST` in a layout. Go reads it from the zoneinfo file; so do we: the
 * POSIX rule in the TZif footer names the standard and daylight
 * abbreviations. This avoids Intl, whose first use costs about 10 ms.
 * See tzfile(5).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Rule {
  std: string;
  /** Standard offset east of UTC, in minutes. */
  stdOffset: number;
  dst?: string;
}

/** Parses the names and standard offset of a POSIX TZ rule such as `CET-1CEST,M3.5.0,M10.5.0/3`. */
export function parsePosixRule(rule: string): Rule | null {
  const m = /^(<[^>]+>|[A-Za-z]{3,})([-+]?\d{1,2}(?::\d{2}){0,2})(<[^>]+>|[A-Za-z]{3,})?/.exec(rule);
  if (!m) return null;
  const name = (s: string) => s.replace(/^<|>$/g, '');
  const [h = '0', min = '0'] = m[2]!.replace(/^[-+]/, '').split(':');
  const west = (Number(h) * 60 + Number(min)) * (m[2]!.startsWith('-') ? -1 : 1);
  return { std: name(m[1]!), stdOffset: -west, dst: m[3] ? name(m[3]) : undefined };
}

/** The POSIX rule in the footer of a version 2+ TZif file. */
export function tzifFooter(data: Buffer): string | null {
  if (data.length < 44 || data.toString('latin1', 0, 4) !== 'TZif' || data[4] === 0) return null;
  const end = data.length - 1;
  if (data[end] !== 0x0a) return null;
  const start = data.lastIndexOf(0x0a, end - 1);
  return start < 0 ? null : data.toString('latin1', start + 1, end);
}

let cached: Rule | null | undefined;

function localRule(env: NodeJS.ProcessEnv): Rule | null {
  let tz = env.TZ;
  if (tz === '') return { std: 'UTC', stdOffset: 0 };
  if (tz?.startsWith(':')) tz = tz.slice(1);
  const file = !tz ? '/etc/localtime' : path.isAbsolute(tz) ? tz : path.join('/usr/share/zoneinfo', tz);
  try {
    const footer = tzifFooter(fs.readFileSync(file));
    return footer ? parsePosixRule(footer) : null;
  } catch {
    // No such zone file: TZ may itself be a POSIX rule; unset TZ without /etc/localtime is UTC.
    return tz ? parsePosixRule(tz) : { std: 'UTC', stdOffset: 0 };
  }
}

/**
 * Abbreviation of the local zone at `d`, or null when the zone data gives
 * none (the caller then falls back to something slower). The zone is read
 * once; call {@link resetZoneCache} after changing TZ.
 */
export function zoneAbbreviation(d: Date): string | null {
  if (cached === undefined) cached = localRule(process.env);
  return pick(cached, d);
}

function pick(rule: Rule | null, d: Date): string | null {
  if (!rule) return null;
  const offset = -d.getTimezoneOffset();
  if (offset === rule.stdOffset || !rule.dst) return rule.std;
  return rule.dst;
}

/** Forgets the cached zone (tests change TZ). */
export function resetZoneCache(): void {
  cached = undefined;
}
