/** The harness side of {@link BenchContext}. */

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BenchContext } from './case';
import { Cleanup, Deferred } from './cleanup';
import { ExecOptions, ExecResult, execTracked } from './exec';
import type { ResultRow } from './results-md';
import { round } from './stats';
import { removeTree } from './tree';

/** Collected output of one case. */
export interface CaseOutput {
  columns: string[];
  rows: ResultRow[];
  notes: string[];
  legend: string[];
}

/** A context for one case, sharing the run's cleanup registry. */
export class HarnessContext implements BenchContext {
  readonly output: CaseOutput = { columns: [], rows: [], notes: [], legend: [] };

  constructor(
    readonly caseName: string,
    readonly runs: number,
    readonly warmup: number,
    readonly repoRoot: string,
    readonly signal: AbortSignal,
    private readonly cleanup: Cleanup,
  ) {}

  log(message: string): void {
    process.stderr.write(`[${this.caseName}] ${message}\n`);
  }

  metric(name: string, value: number, unit: string): void {
    process.stdout.write(`${name} ${round(value)} ${unit}\n`);
  }

  column(name: string, meaning: string): void {
    if (!this.output.columns.includes(name)) this.output.columns.push(name);
    this.output.legend.push(`${name}: ${meaning}`);
  }

  row(row: ResultRow): void {
    this.output.rows.push(row);
  }

  legend(text: string): void {
    this.output.legend.push(text);
  }

  note(text: string): void {
    this.output.notes.push(text);
    this.log(text);
  }

  async tmpDir(prefix: string): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    // Mapped container root (uid 1000000+) must be able to walk in.
    await fs.chmod(dir, 0o755);
    this.cleanup.add(`remove ${dir}`, () => removeTree(dir));
    return dir;
  }

  defer(label: string, fn: () => Promise<void> | void): Deferred {
    return this.cleanup.add(label, fn);
  }

  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return execTracked(cmd, args, opts);
  }
}
