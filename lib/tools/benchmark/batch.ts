/**
 * Incus's batching: `count` jobs run `batchSize` at a time, each batch
 * waited for before the next starts, then the remainder; throughput logged
 * after 1, 2, 4... batches' worth.
 */
import { readdirSync } from 'node:fs';
import { logf } from './log';

/** `parallel` when positive, else the host's CPU count (as /sys/bus/cpu/devices lists them). */
export function batchSize(parallel: number): number {
  if (parallel >= 1) return parallel;
  return readdirSync('/sys/bus/cpu/devices').length;
}

/** Runs `job(0..count-1)` in batches; resolves with the wall time in milliseconds. */
export async function processBatch(count: number, size: number, job: (index: number) => Promise<void>, log = logf): Promise<number> {
  const batches = Math.floor(count / size);
  const remainder = count % size;
  let processed = 0;
  let nextStat = size;
  log('Batch processing start');
  const start = performance.now();
  const runMany = async (n: number) => {
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < n; i++) jobs.push(job(processed++));
    await Promise.all(jobs);
  };
  for (let b = 0; b < batches; b++) {
    await runMany(size);
    if (processed >= nextStat) {
      const s = (performance.now() - start) / 1000;
      log(`Processed ${processed} containers in ${s.toFixed(3)}s (${(processed / s).toFixed(3)}/s)`);
      nextStat *= 2;
    }
  }
  await runMany(remainder);
  const ms = performance.now() - start;
  log(`Batch processing completed in ${(ms / 1000).toFixed(3)}s`);
  return ms;
}
