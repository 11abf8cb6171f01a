/**
 * One operation at a time per instance: state changes, renames and deletes
 * queue behind each other so no two touch the same container at once.
 */
export class InstanceLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs fn after every earlier holder of key has finished. */
  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
