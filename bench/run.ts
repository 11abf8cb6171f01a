/**
 * `npm run bench -- [filter]`: runs the cases under bench/cases whose name
 * matches the filter (a regular expression; all when absent), prints
 * `metric value unit` lines, and updates bench/RESULTS.md.
 * Environment: BENCH_RUNS (default 10), BENCH_WARMUP (default 1).
 */

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BenchCase } from './lib/case';
import { Cleanup } from './lib/cleanup';
import { HarnessContext } from './lib/context';
import { killLive } from './lib/exec';
import { gitCommit, machineInfo } from './lib/machine';
import { CaseReport, mergeResults } from './lib/results-md';

/** The repository root: dist/bench/run.js lives two levels below it. */
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Where results go; BENCH_RESULTS points a smoke run at a scratch file. */
const RESULTS = process.env.BENCH_RESULTS || path.join(REPO_ROOT, 'bench', 'RESULTS.md');

function isBenchCase(v: unknown): v is BenchCase {
  const c = v as Partial<BenchCase> | null;
  return typeof c === 'object' && c !== null && typeof c.name === 'string' && typeof c.run === 'function';
}

/** Loads every compiled case module (named exports or a default export). */
async function discoverCases(dir: string): Promise<BenchCase[]> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.js')).sort();
  const cases: BenchCase[] = [];
  for (const f of files) {
    const mod = require(path.join(dir, f)) as Record<string, unknown>;
    const c = isBenchCase(mod.default) ? mod.default : mod;
    if (!isBenchCase(c)) throw new Error(`${f} exports no { name, run }`);
    cases.push({ name: c.name, run: c.run.bind(c) });
  }
  return cases;
}

function positiveInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length > 1) {
    process.stderr.write('Usage: npm run bench -- [filter]\n');
    return 2;
  }
  let filter: RegExp | undefined;
  let runs: number;
  let warmup: number;
  try {
    filter = argv[0] === undefined ? undefined : new RegExp(argv[0]);
    runs = positiveInt('BENCH_RUNS', 10, 1);
    warmup = positiveInt('BENCH_WARMUP', 1, 0);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const all = await discoverCases(path.join(__dirname, 'cases'));
  const selected = all.filter((c) => filter === undefined || filter.test(c.name));
  if (selected.length === 0) {
    process.stderr.write(`No case matches ${String(filter)}; cases: ${all.map((c) => c.name).join(', ')}\n`);
    return 2;
  }

  const cleanup = new Cleanup();
  const abort = new AbortController();
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 2) process.exit(sig === 'SIGINT' ? 130 : 143);
    if (interrupts > 1) {
      log(`${sig} again: still cleaning up (once more to exit at once)`);
      return;
    }
    log(`${sig}: cleaning up ${cleanup.size} item(s)`);
    abort.abort();
    killLive();
    void cleanup.runAll(log).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const machine = await machineInfo();
  const commit = await gitCommit(REPO_ROOT);
  const reports: CaseReport[] = [];
  let failed = false;
  for (const c of selected) {
    if (abort.signal.aborted) break;
    const ctx = new HarnessContext(c.name, runs, warmup, REPO_ROOT, abort.signal, cleanup);
    const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    ctx.log(`running (${runs} runs, ${warmup} warm-up)`);
    try {
      await c.run(ctx);
    } catch (err) {
      if (abort.signal.aborted) break;
      failed = true;
      ctx.note(`failed: ${(err as Error).stack ?? String(err)}`.split('\n')[0]);
      ctx.log((err as Error).stack ?? String(err));
    } finally {
      // These hosts are shared: a busy one explains an outlier.
      ctx.note(`load average at the end of the case: ${os.loadavg().map((l) => l.toFixed(1)).join(', ')} (${os.cpus().length} cores)`);
      await cleanup.runAll(log);
    }
    reports.push({ name: c.name, date, commit, machine, ...ctx.output });
  }
  if (abort.signal.aborted) return 130;

  let existing = '';
  try {
    existing = await fs.readFile(RESULTS, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.writeFile(RESULTS, mergeResults(existing, reports));
  log(`wrote ${path.relative(process.cwd(), RESULTS) || RESULTS}`);
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
