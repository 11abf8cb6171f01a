/** `-c` column specs of the list commands: one letter per column, commas allowed (Incus's messages on error). */
export function parseColumnLetters<T>(spec: string, columns: Readonly<Record<string, T>>): T[] {
  const out: T[] = [];
  for (const entry of spec.split(',')) {
    if (entry === '') throw new Error(`Empty column entry (redundant, leading or trailing command) in '${spec}'`);
    for (const ch of entry) {
      const c = columns[ch];
      if (!c) throw new Error(`Unknown column shorthand char '${ch}' in '${entry}'`);
      out.push(c);
    }
  }
  return out;
}
