/**
 * Host paths that devices follow while their container runs: a unix-char
 * or unix-block device with required=false is plugged when its source
 * appears and unplugged when it goes, as Incus's device monitor does.
 * The paths are polled (an lstat each, every POLL_MS, only while something
 * is watched): a source may sit in a directory that does not exist yet
 * (Incus's own test makes the directory and the node later), which an
 * inotify watch would have to follow up the tree.
 */
import { lstat } from 'node:fs/promises';

const POLL_MS = 250;

interface Watched {
  path: string;
  /** Whether the device is plugged (the last state acted on). */
  present: boolean;
  onChange: (present: boolean) => Promise<void>;
  busy: boolean;
}

export class SourceWatch {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  /** `onError`: a change that could not be applied (the next change is tried again). */
  constructor(private readonly onError: (key: string, err: unknown) => void = () => undefined) {}

  /**
   * Follows `path` under `key` (one per instance device; a new watch
   * replaces the old): onChange(true) once it exists while `present` is
   * false, onChange(false) once it is gone while `present` is true.
   */
  watch(key: string, path: string, present: boolean, onChange: (present: boolean) => Promise<void>): void {
    this.watched.set(key, { path, present, onChange, busy: false });
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), POLL_MS);
      // Watching alone never keeps the daemon alive.
      this.timer.unref();
    }
  }

  unwatch(key: string): void {
    this.watched.delete(key);
    if (this.watched.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** The keys being watched (tests, diagnostics). */
  keys(): string[] {
    return [...this.watched.keys()];
  }

  private async poll(): Promise<void> {
    for (const [key, w] of this.watched) {
      if (w.busy) continue;
      const exists = await lstat(w.path).then(
        () => true,
        () => false,
      );
      if (exists === w.present || this.watched.get(key) !== w) continue;
      w.busy = true;
      w.present = exists;
      try {
        await w.onChange(exists);
      } catch (err) {
        this.onError(key, err);
      } finally {
        w.busy = false;
      }
    }
  }
}
