/**
 * Background checks a device runs while its instance runs, one per key
 * (instance device): a proxy in NAT mode without a static target address
 * looks for the instance's address in the bridge's neighbour table and
 * follows it, as Incus's neighbour scan does. Each check runs at once, then
 * every interval; a check still running is not started again.
 */
export class DeviceMonitors {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** `onError`: a check that threw (the next tick tries again). */
  constructor(private readonly onError: (key: string, err: unknown) => void = () => undefined) {}

  /** Runs `check` under `key` every `intervalMs`, replacing what ran under it. */
  start(key: string, intervalMs: number, check: () => Promise<void>): void {
    this.stop(key);
    let busy = false;
    const tick = (): void => {
      if (busy) return;
      busy = true;
      check()
        .catch((err: unknown) => this.onError(key, err))
        .finally(() => {
          busy = false;
        });
    };
    const timer = setInterval(tick, intervalMs);
    // A monitor alone never keeps the daemon alive.
    timer.unref();
    this.timers.set(key, timer);
    tick();
  }

  stop(key: string): void {
    const timer = this.timers.get(key);
    if (timer) clearInterval(timer);
    this.timers.delete(key);
  }

  /** The keys being monitored (tests, diagnostics). */
  keys(): string[] {
    return [...this.timers.keys()];
  }
}
