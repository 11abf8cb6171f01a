/** `key=value` arguments (`-c`, `-d`, image properties). */

/** Go's %q for the strings we quote in messages. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/**
 * Parses repeated `key=value` entries; later entries win. The value may
 * contain `=` (split on the first one) and may be empty.
 * @throws Error `Bad key=value pair: "x"` for an entry without `=`.
 */
export function parseKeyValues(entries: readonly string[], into: Record<string, string> = {}): Record<string, string> {
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`Bad key=value pair: ${quote(entry)}`);
    into[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return into;
}

/**
 * Parses `-d device,key=value` overrides into device -> key -> value.
 * @throws Error with Incus's message for an entry lacking `,` or `=`.
 */
export function parseDeviceOverrides(entries: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const entry of entries) {
    const comma = entry.indexOf(',');
    const eq = entry.indexOf('=', comma + 1);
    if (comma < 0 || !entry.includes('=') || eq < 0) {
      throw new Error(`Bad device override syntax, expecting <device>,<key>=<value>: ${entry}`);
    }
    const dev = entry.slice(0, comma);
    (out[dev] ??= {})[entry.slice(comma + 1, eq)] = entry.slice(eq + 1);
  }
  return out;
}
