/**
 * Download progress as Incus reports it in operation metadata:
 * `download_progress: "rootfs: 45% (1.20MB/s)"`, updated when the
 * percentage moves and at most every 200 ms.
 */
import type { ProgressFn } from './fetched';

/** Incus's decimal byte sizes (`GetByteSizeString`): 999B, 1.20kB, 3.40MB. */
export function byteSize(n: number, precision = 2): string {
  if (n < 1000) return `${Math.floor(n)}B`;
  let v = n;
  for (const unit of ['kB', 'MB', 'GB', 'TB', 'PB']) {
    v /= 1000;
    if (v < 1000) return `${v.toFixed(precision)}${unit}`;
  }
  return `${v.toFixed(precision)}EB`;
}

/** A ProgressFn that reports `{download_progress: text}` through `report`. */
export function progressReporter(report: (md: Record<string, unknown>) => void, now: () => number = Date.now): ProgressFn {
  let stage = '';
  let start = now();
  let lastAt = 0;
  let lastPercent = -1;
  return (which, received, total) => {
    const t = now();
    if (which !== stage) {
      // The first stage counts from when the download began, later ones from their own start.
      if (stage !== '') start = t;
      stage = which;
      lastPercent = -1;
    }
    const percent = total > 0 ? Math.min(100, Math.floor((received * 100) / total)) : 0;
    if (percent === lastPercent || (percent < 100 && t - lastAt < 200)) return;
    lastPercent = percent;
    lastAt = t;
    const speed = received / Math.max((t - start) / 1000, 0.001);
    report({ download_progress: `${which}: ${percent}% (${byteSize(speed)}/s)` });
  };
}
