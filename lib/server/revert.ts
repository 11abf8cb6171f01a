/** Undo steps for multi-step changes: registered as work proceeds, run in reverse on failure. */
export class Reverter {
  private steps: (() => unknown)[] = [];

  add(step: () => unknown): void {
    this.steps.push(step);
  }

  /** Runs every undo step, newest first, ignoring their own failures. */
  async fail(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const s of steps) {
      try {
        await s();
      } catch {
        // Best effort: keep undoing the rest.
      }
    }
  }

  success(): void {
    this.steps = [];
  }
}
