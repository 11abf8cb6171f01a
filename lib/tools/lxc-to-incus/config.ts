/**
 * Reading an LXC container config (`<lxcpath>/<name>/config`) as Incus's
 * lxc-to-incus does: `key = value` lines, comments and blanks skipped,
 * user `lxc.include` files (and `*.conf` in included directories) inlined,
 * LXC's own shipped includes (/usr/share/lxc/config/) left out.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** One `key = value` line. */
export interface ConfigEntry {
  key: string;
  value: string;
}

/** Parses config text; `include` reads an included path (file or directory). */
export function parseConfigText(text: string, include: (path: string) => ConfigEntry[] = () => []): ConfigEntry[] {
  const out: ConfigEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'lxc.include') {
      if (value.startsWith('/usr/share/lxc/config/')) continue;
      out.push(...include(value));
      continue;
    }
    out.push({ key, value });
  }
  return out;
}

/** Parses a config file with its user includes. */
export function parseConfigFile(path: string, depth = 0): ConfigEntry[] {
  if (depth > 10) throw new Error(`Too many nested includes at ${path}`);
  return parseConfigText(readFileSync(path, 'utf8'), (inc) => {
    if (!existsSync(inc)) return [];
    if (statSync(inc).isDirectory()) {
      return readdirSync(inc)
        .filter((f) => f.endsWith('.conf'))
        .sort()
        .flatMap((f) => parseConfigFile(join(inc, f), depth + 1));
    }
    return parseConfigFile(inc, depth + 1);
  });
}

/** Every non-empty value of `key`, quotes stripped, in file order. */
export function getConfig(entries: ConfigEntry[], key: string): string[] {
  return entries
    .filter((e) => e.key === key)
    .map((e) => e.value.replace(/^"+|"+$/g, ''))
    .filter((v) => v !== '');
}

/** First value of the first key present (new name first, then the legacy one). */
export function first(entries: ConfigEntry[], ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = getConfig(entries, k);
    if (v.length) return v[0];
  }
  return undefined;
}

/** The rootfs directory (`dir:/path` or a bare path); undefined when missing. */
export function rootfsOf(entries: ConfigEntry[]): string | undefined {
  const v = first(entries, 'lxc.rootfs.path', 'lxc.rootfs');
  if (!v) return undefined;
  const colon = v.indexOf(':');
  return colon >= 0 && !v.startsWith('/') ? v.slice(colon + 1) : v;
}
