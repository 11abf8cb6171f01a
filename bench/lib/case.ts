/** What a benchmark case is, and what the harness gives it. */

import type { Deferred } from './cleanup';
import type { ExecOptions, ExecResult } from './exec';
import type { ResultRow } from './results-md';

/** The harness's services to a running case. */
export interface BenchContext {
  /** Measured repetitions per figure (BENCH_RUNS, default 10). */
  readonly runs: number;
  /** Untimed repetitions before measuring (BENCH_WARMUP, default 1). */
  readonly warmup: number;
  /** Root of the repository (holds bin/, dist/). */
  readonly repoRoot: string;
  /** Aborted on SIGINT/SIGTERM: stop starting new work. */
  readonly signal: AbortSignal;
  /** Progress and diagnostics, to stderr. */
  log(message: string): void;
  /** Prints one `metric value unit` line to stdout. */
  metric(name: string, value: number, unit: string): void;
  /** Declares a measured column of this case's table (in order) and what it means. */
  column(name: string, meaning: string): void;
  /** Adds a row to this case's table in RESULTS.md. */
  row(row: ResultRow): void;
  /** Adds a legend line (e.g. what the reference is). */
  legend(text: string): void;
  /** Adds a line under this case's table (what was skipped and why). */
  note(text: string): void;
  /** A fresh directory (mode 0755), removed at the end even on SIGINT. */
  tmpDir(prefix: string): Promise<string>;
  /**
   * Registers an undo step, run at the end (newest first) even on SIGINT.
   * The handle runs it early, or drops it once the resource is gone.
   */
  defer(label: string, fn: () => Promise<void> | void): Deferred;
  /** Runs a command without a shell; killed if the run is interrupted. */
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** A module under bench/cases/. */
export interface BenchCase {
  /** Matched against the command-line filter; names the RESULTS.md section. */
  name: string;
  run(ctx: BenchContext): Promise<void>;
}

/** Thrown by a driver that cannot run here; its reason becomes a note. */
export class Unavailable extends Error {
  override name = 'Unavailable';
}
