/**
 * Everything a benchmark run started (processes, containers, daemons, temp
 * dirs), undone in reverse order at the end or on SIGINT/SIGTERM.
 */

/** One undo step. */
interface Step {
  label: string;
  fn: () => Promise<void> | void;
}

/** Handle on a registered undo step. */
export interface Deferred {
  /** Runs the step now (once) and unregisters it. */
  run(): Promise<void>;
  /** Unregisters the step without running it: the resource is gone already. */
  drop(): void;
}

/** LIFO registry of undo steps. */
export class Cleanup {
  private steps: Step[] = [];
  private running: Promise<void> | undefined;

  /** Registers an undo step; the handle runs it early or drops it. */
  add(label: string, fn: () => Promise<void> | void): Deferred {
    const step: Step = { label, fn };
    this.steps.push(step);
    const take = (): boolean => {
      const i = this.steps.indexOf(step);
      if (i < 0) return false;
      this.steps.splice(i, 1);
      return true;
    };
    return {
      run: async () => {
        if (take()) await step.fn();
      },
      drop: () => {
        take();
      },
    };
  }

  /**
   * Runs every step, newest first, logging failures. A call made while a
   * pass is under way joins that pass.
   */
  runAll(log: (msg: string) => void): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length > 0) {
        const step = this.steps.pop() as Step;
        try {
          await step.fn();
        } catch (err) {
          log(`cleanup: ${step.label}: ${(err as Error).message}`);
        }
      }
      this.running = undefined;
    })();
    return this.running;
  }

  /** Number of pending steps. */
  get size(): number {
    return this.steps.length;
  }
}
