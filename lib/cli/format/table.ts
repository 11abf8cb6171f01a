/**
 * Text tables drawn the way Incus draws them (tablewriter, ASCII symbols):
 * `table` has borders and a line between rows; `compact` has neither.
 * Headers are centred, cells left-aligned, a cell may span several lines.
 */

export type TableStyle = 'table' | 'compact';

/** Display width of `s` in terminal columns (code points; no wide-glyph table). */
function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function padRight(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - width(s)));
}

/** Centre with the extra space on the right, as tablewriter does. */
function padCenter(s: string, w: number): string {
  const gap = Math.max(0, w - width(s));
  const left = Math.floor(gap / 2);
  return ' '.repeat(left) + s + ' '.repeat(gap - left);
}

/**
 * Renders `rows` under `header` (no header line when `header` is null).
 * Every row must have as many cells as the header (or as the first row).
 * Returns the text with a trailing newline, or '' when there is nothing.
 */
export function renderTable(header: string[] | null, rows: string[][], style: TableStyle): string {
  const cols = header?.length ?? rows[0]?.length ?? 0;
  if (cols === 0 || (!header && rows.length === 0)) return '';
  const widths = new Array<number>(cols).fill(0);
  const measure = (cells: string[]) => {
    for (let i = 0; i < cols; i++) {
      for (const line of (cells[i] ?? '').split('\n')) widths[i] = Math.max(widths[i]!, width(line));
    }
  };
  if (header) measure(header);
  rows.forEach(measure);

  const bordered = style === 'table';
  const sep = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const line = (cells: string[], pad: (s: string, w: number) => string): string[] => {
    const split = widths.map((_, i) => (cells[i] ?? '').split('\n'));
    const height = Math.max(...split.map((l) => l.length));
    const out: string[] = [];
    for (let h = 0; h < height; h++) {
      const parts = widths.map((w, i) => ' ' + pad(split[i]![h] ?? '', w) + ' ');
      out.push(bordered ? '|' + parts.join('|') + '|' : parts.join(''));
    }
    return out;
  };

  const out: string[] = [];
  if (bordered) out.push(sep);
  if (header) {
    out.push(...line(header, padCenter));
    if (bordered) out.push(sep);
  }
  rows.forEach((row, i) => {
    out.push(...line(row, padRight));
    if (bordered && i < rows.length - 1) out.push(sep);
  });
  if (bordered && rows.length > 0) out.push(sep);
  return out.join('\n') + '\n';
}
