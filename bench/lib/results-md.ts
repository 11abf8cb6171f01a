/** Renders bench/RESULTS.md: one section per case, replaced when that case runs again. */

import { MachineInfo } from './machine';
import { round } from './stats';

/** One table row: figures per column next to the reference (the floor). */
export interface ResultRow {
  metric: string;
  unit: string;
  /** By column name (see {@link CaseReport.columns}); missing when not measured. */
  values: Record<string, number | undefined>;
  reference?: number;
}

/** Everything one case produced in one run. */
export interface CaseReport {
  name: string;
  date: string;
  commit: string;
  machine: MachineInfo;
  /** Measured columns, in table order (e.g. `ours (API)`, `ours (CLI)`, `LXD`). */
  columns: string[];
  /** What the columns and the reference mean. */
  legend: string[];
  rows: ResultRow[];
  notes: string[];
}

const TITLE = '# Benchmark results';
const PREAMBLE = 'Written by `npm run bench -- <filter>`; each case\'s section is replaced when that case runs. Each ratio is that column / reference (lower is better; 1.0 is the floor).';

function cell(value: number | undefined, unit: string): string {
  return value === undefined ? '—' : `${round(value)} ${unit}`;
}

/** Ratio of a column's value to the reference, or undefined when either is missing. */
export function ratio(row: ResultRow, column: string): number | undefined {
  const v = row.values[column];
  if (v === undefined || row.reference === undefined || row.reference === 0) return undefined;
  return v / row.reference;
}

/** The markdown section (starting with `## name`) for one case. */
export function renderSection(r: CaseReport): string {
  const m = r.machine;
  const lines = [
    `## ${r.name}`,
    '',
    `- Date: ${r.date}`,
    `- Commit: ${r.commit}`,
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.kernel}, Node ${m.node}`,
    ...r.legend.map((l) => `- ${l}`),
    '',
    `| metric | ${[...r.columns, 'reference', ...r.columns.map((c) => `ratio ${c}`)].join(' | ')} |`,
    `|---|${Array(r.columns.length * 2 + 1).fill('---:').join('|')}|`,
  ];
  for (const row of r.rows) {
    const values = r.columns.map((c) => cell(row.values[c], row.unit));
    const ratios = r.columns.map((c) => {
      const q = ratio(row, c);
      return q === undefined ? '—' : `${round(q)}×`;
    });
    lines.push(`| ${[row.metric, ...values, cell(row.reference, row.unit), ...ratios].join(' | ')} |`);
  }
  if (r.notes.length > 0) {
    lines.push('');
    for (const n of r.notes) lines.push(`- ${n}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Splits an existing RESULTS.md into its case sections, by name. */
export function parseSections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  const parts = text.split(/^(?=## )/m);
  for (const part of parts) {
    const m = /^## (\S+)/.exec(part);
    if (m) sections.set(m[1], `${part.trimEnd()}\n`);
  }
  return sections;
}

/** The whole file with `reports` replacing (or adding) their sections; sorted by case name. */
export function mergeResults(existing: string, reports: readonly CaseReport[]): string {
  const sections = parseSections(existing);
  for (const r of reports) sections.set(r.name, renderSection(r));
  const names = [...sections.keys()].sort();
  return [TITLE, '', PREAMBLE, '', ...names.map((n) => sections.get(n) as string)].join('\n');
}
