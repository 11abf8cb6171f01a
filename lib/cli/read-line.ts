/** One answer typed at a prompt (`yes/no` questions, fingerprints, tokens). */

/** Input read past the last line handed out, kept for the next prompt (piped answers arrive in one chunk). */
let pending = '';
let ended = false;

/** Reads one line from stdin, trimmed ('' at end of input). */
export function readLine(): Promise<string> {
  return new Promise((resolve) => {
    const take = (): boolean => {
      const nl = pending.indexOf('\n');
      if (nl < 0 && !ended) return false;
      const line = nl < 0 ? pending : pending.slice(0, nl);
      pending = nl < 0 ? '' : pending.slice(nl + 1);
      resolve(line.trim());
      return true;
    };
    if (take()) return;
    const onData = (b: Buffer): void => {
      pending += b.toString();
      if (take()) stop();
    };
    const onEnd = (): void => {
      ended = true;
      take();
      stop();
    };
    const stop = (): void => {
      process.stdin.off('data', onData);
      process.stdin.off('end', onEnd);
      process.stdin.pause();
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', onEnd);
  });
}
