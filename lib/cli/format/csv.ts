/** CSV as Go's encoding/csv writes it (comma, LF line ends, minimal quoting). */

/** Go quotes a field holding a comma, quote, CR or LF, starting with a space, or equal to `\.`. */
function needsQuotes(field: string): boolean {
  if (field === '') return false;
  if (field === '\\.') return true;
  if (/[",\r\n]/.test(field)) return true;
  return /^\s/u.test(field);
}

/** One CSV record, newline-terminated. */
export function csvRecord(fields: string[]): string {
  return fields.map((f) => (needsQuotes(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',') + '\n';
}

/** All `rows`, preceded by `header` when given. */
export function renderCsv(header: string[] | null, rows: string[][]): string {
  return (header ? csvRecord(header) : '') + rows.map(csvRecord).join('');
}
