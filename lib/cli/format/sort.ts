/** Row ordering used by Incus list commands (natural order, empty cells last). */

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Natural string order: runs of digits compare as numbers (fewer leading
 * zeros first on a tie), digits sort before other characters, the rest
 * compares by character code.
 */
export function naturalLess(a: string, b: string): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c1 = a.charCodeAt(i);
    const c2 = b.charCodeAt(j);
    const d1 = isDigit(c1);
    const d2 = isDigit(c2);
    if (d1 !== d2) return d1;
    if (!d1) {
      i++;
      j++;
      if (c1 !== c2) return c1 < c2;
      continue;
    }
    while (i < a.length && a.charCodeAt(i) === 48) i++;
    while (j < b.length && b.charCodeAt(j) === 48) j++;
    const nz1 = i;
    const nz2 = j;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    if (i - nz1 !== j - nz2) return i - nz1 < j - nz2;
    const n1 = a.slice(nz1, i);
    const n2 = b.slice(nz2, j);
    if (n1 !== n2) return n1 < n2;
    if (nz1 !== nz2) return nz1 < nz2;
  }
  return a.length < b.length;
}

function compareCells(x: string, y: string): number {
  if (x === y) return 0;
  if (x === '') return 1;
  if (y === '') return -1;
  return naturalLess(x, y) ? -1 : 1;
}

/** Sorts rows by their first differing column (Incus SortColumnsNaturally). */
export function sortRowsNaturally(rows: string[][]): string[][] {
  return rows.sort((r1, r2) => {
    for (let k = 0; k < r1.length; k++) {
      const c = compareCells(r1[k] ?? '', r2[k] ?? '');
      if (c !== 0) return c;
    }
    return 0;
  });
}
