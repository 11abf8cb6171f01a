/**
 * QEMU's `-readconfig` file format: sections (`[device "id"]`) of
 * `key = "value"` lines, their rendering, and Incus's `raw.qemu.conf`
 * override language applied on top of the generated sections.
 */

/** One config-file section: `[name]` with its entries (rendered in key order). */
export interface ConfSection {
  /** The header inside the brackets, e.g. `machine` or `device "dev-incus_root"`. */
  name: string;
  /** A `# comment` line written above the header. */
  comment?: string;
  entries: Record<string, string>;
}

function checkValue(section: string, key: string, value: string): void {
  // The file format has no escaping: a quote or newline would end the value.
  if (/["\n\r]/.test(value)) {
    throw new Error(`QEMU config value for "${key}" in [${section}] cannot contain quotes or newlines: ${JSON.stringify(value)}`);
  }
}

/** Renders sections as QEMU reads them; empty values are left out (as Incus does). */
export function renderConf(sections: readonly ConfSection[]): string {
  let out = '';
  for (const s of sections) {
    if (s.comment) out += `# ${s.comment}\n`;
    out += `[${s.name}]\n`;
    for (const key of Object.keys(s.entries).sort()) {
      const value = s.entries[key];
      if (value === '') continue;
      checkValue(s.name, key, value);
      out += `${key} = "${value}"\n`;
    }
    out += '\n';
  }
  return out;
}

/**
 * Applies a `raw.qemu.conf` override (Incus's syntax) to `sections`:
 * - `[name]` or `[name][N]` selects the N-th (0-based) section with that
 *   header, creating it when absent;
 * - `key = value` (value optionally double-quoted) sets or replaces a key;
 * - `key =` (empty value) deletes the key;
 * - a section header with no key lines under it deletes that section.
 * Sections left with no entries are dropped. Throws with the faulty line.
 */
export function applyConfOverride(sections: readonly ConfSection[], override: string): ConfSection[] {
  const ordered: ConfSection[] = sections.map((s) => ({ ...s, entries: { ...s.entries } }));
  const byName = new Map<string, ConfSection[]>();
  for (const s of ordered) {
    const list = byName.get(s.name) ?? [];
    list.push(s);
    byName.set(s.name, list);
  }

  let current: ConfSection | null = null;
  let touched = true;
  const clearIfUntouched = (): void => {
    if (current && !touched) current.entries = {};
  };

  for (const raw of override.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('[')) {
      const end = line.indexOf(']');
      if (end <= 1) throw new Error(`Invalid section header (must be a section name enclosed in square brackets): "${line}"`);
      clearIfUntouched();
      touched = false;
      const name = line.slice(1, end).trim();
      let index = 0;
      const rest = line.slice(end + 1);
      if (rest !== '') {
        const m = /^\[(\d+)\]$/.exec(rest);
        if (!m) throw new Error(`Invalid section index (must be an integer enclosed in square brackets): "${rest}"`);
        index = Number(m[1]);
      }
      const list = byName.get(name) ?? [];
      byName.set(name, list);
      let sec = list[index];
      if (!sec) {
        sec = { name, entries: {} };
        list[index] = sec;
        ordered.push(sec);
      }
      current = sec;
      continue;
    }
    if (!current) throw new Error(`Expected section header, got: "${line}"`);
    const eq = line.indexOf('=');
    if (eq < 1) throw new Error(`Invalid property override line (must be \`key=value\`): "${line}"`);
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        throw new Error(`Invalid quoted value: "${value}"`);
      }
      if (typeof value !== 'string') throw new Error(`Invalid quoted value: "${line.slice(eq + 1).trim()}"`);
    }
    touched = true;
    if (value === '') delete current.entries[key];
    else current.entries[key] = value;
  }
  clearIfUntouched();
  return ordered.filter((s) => Object.keys(s.entries).length > 0);
}
