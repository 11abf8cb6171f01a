/**
 * Transfer progress in operation metadata as Incus writes it:
 * `fs_progress: "c1: 12.34MB (5.67MB/s)"` (`block_progress` for disks),
 * updated at most every 500 ms.
 */
import { byteSize } from '../images/remote/progress';

export type Report = (md: Record<string, unknown>) => void;

export class TransferProgress {
  private bytes = 0;
  private start = Date.now();
  private lastAt = 0;
  /** All bytes moved by this migration, for callers and tests. */
  total = 0;

  constructor(private readonly report: Report | undefined) {}

  /** A counter for one stream (a snapshot or the volume) under `key`. */
  stream(key: 'fs_progress' | 'block_progress', name: string): (n: number) => void {
    this.bytes = 0;
    this.start = Date.now();
    return (n) => {
      this.bytes += n;
      this.total += n;
      const t = Date.now();
      if (!this.report || t - this.lastAt < 500) return;
      this.lastAt = t;
      const speed = this.bytes / Math.max((t - this.start) / 1000, 0.001);
      this.report({ [key]: `${name}: ${byteSize(this.bytes)} (${byteSize(speed)}/s)` });
    };
  }
}
