/** The summary printed after each action, computed from the same samples as the report rows. */
import type { Sample } from './report';

/** Figures of one action. */
export interface Summary {
  action: string;
  count: number;
  succeeded: number;
  failed: number;
  /** Wall time of the whole action, ms. */
  totalMs: number;
  /** Per-container elapsed times over the successful samples, ms (0 when none). */
  minMs: number;
  meanMs: number;
  maxMs: number;
}

/** Figures of the samples, elapsed rounded to whole ms as in the report. */
export function summarize(action: string, samples: Sample[], totalMs: number): Summary {
  const ok = samples.filter((s) => s.ok).map((s) => Math.round(s.elapsedMs));
  const sum = ok.reduce((a, b) => a + b, 0);
  return {
    action,
    count: samples.length,
    succeeded: ok.length,
    failed: samples.length - ok.length,
    totalMs: Math.round(totalMs),
    minMs: ok.length ? Math.min(...ok) : 0,
    meanMs: ok.length ? Math.round(sum / ok.length) : 0,
    maxMs: ok.length ? Math.max(...ok) : 0,
  };
}

/** The summary as printed. */
export function summaryText(s: Summary): string {
  const rate = s.totalMs > 0 ? (s.count / (s.totalMs / 1000)).toFixed(3) : '0.000';
  return (
    `Summary (${s.action}):\n` +
    `  Containers: ${s.count} (${s.succeeded} succeeded, ${s.failed} failed)\n` +
    `  Total time: ${(s.totalMs / 1000).toFixed(3)}s (${rate}/s)\n` +
    `  Per container: min ${s.minMs}ms, mean ${s.meanMs}ms, max ${s.maxMs}ms\n`
  );
}
