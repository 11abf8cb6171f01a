/** `--format` handling shared by the list commands. */
import { renderCsv } from './csv';
import { renderJson } from './json';
import { renderTable } from './table';
import { renderYaml } from './yaml';

/** Values `--format` accepts (before any `,modifier`). */
export const LIST_FORMATS = ['table', 'csv', 'json', 'yaml', 'compact'] as const;
/** One of {@link LIST_FORMATS}. */
export type ListFormat = (typeof LIST_FORMATS)[number];

/** A parsed `--format` value. */
export interface FormatSpec {
  format: ListFormat;
  /** `,noheader`: no header line in table/compact. */
  noHeader: boolean;
  /** `,header`: add the header line to csv. */
  header: boolean;
  /** `,raw`: plain numbers instead of human units. */
  raw: boolean;
}

/**
 * Parses a `--format` value such as `csv,header` (Incus's messages on error).
 * @throws Error for an unknown format or modifier.
 */
export function parseFormat(value: string): FormatSpec {
  const comma = value.indexOf(',');
  const name = comma < 0 ? value : value.slice(0, comma);
  const modifiers = comma < 0 ? [] : value.slice(comma + 1).split(',');
  for (const m of modifiers) {
    if (!['noheader', 'header', 'raw', ''].includes(m)) {
      throw new Error(`Invalid modifier ${JSON.stringify(m)} on flag "--format" (${JSON.stringify(value)})`);
    }
  }
  if (!(LIST_FORMATS as readonly string[]).includes(name)) {
    throw new Error(`Invalid value ${JSON.stringify(name)} for flag "--format"`);
  }
  return {
    format: name as ListFormat,
    noHeader: modifiers.includes('noheader'),
    header: modifiers.includes('header'),
    raw: modifiers.includes('raw'),
  };
}

/**
 * Renders a list: `header`/`rows` for table, compact and csv; `raw` (the API
 * objects, already in Go key order) for json and yaml.
 */
export function renderList(spec: FormatSpec, header: string[], rows: string[][], raw: unknown): string {
  switch (spec.format) {
    case 'table':
    case 'compact':
      return renderTable(spec.noHeader ? null : header, rows, spec.format);
    case 'csv':
      return renderCsv(spec.header && !spec.noHeader ? header : null, rows);
    case 'json':
      return renderJson(raw);
    case 'yaml':
      return renderYaml(raw);
  }
}
