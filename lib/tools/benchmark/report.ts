/**
 * The CSV report: the subset of JMeter's CSV log format that Jenkins'
 * performance plugin reads, with Incus's columns. The file is read (and its
 * header checked) before a run and written back with the run's rows
 * appended, so runs accumulate.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { csvRecord } from '../../cli/format/csv';

/** Columns, in order, as Incus writes them. */
export const CSV_FIELDS = ['timeStamp', 'elapsed', 'label', 'responseCode', 'success'] as const;

/** One sample: one container through one action. */
export interface Sample {
  /** Container name (not written: JMeter has no column for it). */
  name: string;
  /** When the action started, ms since the epoch. */
  startedAt: number;
  /** Milliseconds the action took. */
  elapsedMs: number;
  ok: boolean;
  /** HTTP status of the failure; '' on success, as Incus writes. */
  responseCode: string;
}

/** Splits CSV text into records (RFC 4180 quoting). */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || record.length) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** The report row of a sample. */
export function sampleRow(s: Sample, label: string): string[] {
  return [String(Math.floor(s.startedAt)), String(Math.round(s.elapsedMs)), label, s.ok ? '' : s.responseCode, s.ok ? 'true' : 'false'];
}

/**
 * Reads an existing report, checking every record has the right number of fields.
 * @throws when the file is not a report of this format.
 */
export function loadReport(file: string): string[][] {
  if (!existsSync(file)) return [];
  const records = parseCsv(readFileSync(file, 'utf8'));
  for (const r of records) {
    if (r.length !== CSV_FIELDS.length) throw new Error(`Invalid number of fields : ${JSON.stringify(r)}`);
  }
  return records;
}

/** Writes `existing` (header added when empty) followed by `rows`, replacing the file atomically. */
export function writeReport(file: string, existing: string[][], rows: string[][]): void {
  const records = existing.length ? [...existing] : [[...CSV_FIELDS]];
  records.push(...rows);
  const tmp = `${file}.tmp${process.pid}`;
  writeFileSync(tmp, records.map(csvRecord).join(''), { mode: 0o640 });
  renameSync(tmp, file);
}
