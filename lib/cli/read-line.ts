/** One answer typed at a prompt (`yes/no` questions). */

/** Reads one line from stdin, trimmed ('' at end of input). */
export function readLine(): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (b: Buffer): void => {
      buf += b.toString();
      if (buf.includes('\n')) finish();
    };
    const finish = (): void => {
      process.stdin.off('data', onData);
      process.stdin.off('end', finish);
      process.stdin.pause();
      resolve(buf.split('\n')[0]!.trim());
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', finish);
  });
}
