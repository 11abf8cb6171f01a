/**
 * Progress of a long operation as Incus's CLI shows it: one line rewritten
 * in place on a terminal ("Retrieving image: rootfs: 45% (1.20MB/s)"),
 * nothing when output is piped; then a final message unless --quiet.
 * Operation progress comes from metadata keys ending in `_progress`, read
 * by polling the operation while waiting on it.
 */
import type { Operation as OperationData } from '../api/operation';
import type { Operation } from '../client/operation';
import type { Writer } from './context';

const POLL_MS = 250;

export class ProgressLine {
  private shown = 0;
  private last = '';
  private readonly tty: boolean;

  constructor(
    private readonly out: Writer,
    /** printf-like, `%s` replaced by the progress text. */
    private readonly format: string,
    private readonly quiet = false,
  ) {
    this.tty = (out as { isTTY?: boolean }).isTTY === true;
  }

  /** Whether updates are shown at all (a terminal, not --quiet). */
  get active(): boolean {
    return this.tty && !this.quiet;
  }

  /** Shows `text` (terminal only). */
  update(text: string): void {
    if (!this.tty || this.quiet || text === '') return;
    const line = this.format.replace('%s', text);
    if (line === this.last) return;
    this.last = line;
    const pad = Math.max(0, this.shown - line.length);
    this.out.write(`\r${line}${' '.repeat(pad)}`);
    this.shown = line.length;
  }

  /** Clears the line and prints `message` (when given and not quiet). */
  done(message = ''): void {
    if (this.shown > 0) this.out.write(`\r${' '.repeat(this.shown)}\r`);
    this.shown = 0;
    this.last = '';
    if (message && !this.quiet) this.out.write(`${message}\n`);
  }
}

/** The progress text of an operation's metadata (any `*_progress` key), or ''. */
export function progressText(md: Record<string, unknown> | null | undefined): string {
  for (const [k, v] of Object.entries(md ?? {})) if (k.endsWith('_progress') && typeof v === 'string') return v;
  return '';
}

/** Waits for `op`, showing its progress on `line` meanwhile; the line is cleared (not ended) on return. */
export async function waitShowingProgress(op: Operation, line: ProgressLine): Promise<OperationData> {
  if (!line.active) return op.wait();
  let finished = false;
  const poll = (async () => {
    while (!finished) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (finished) break;
      try {
        line.update(progressText((await op.refresh()).metadata));
      } catch {
        // The operation may be gone already; wait() reports the outcome.
      }
    }
  })();
  try {
    return await op.wait();
  } finally {
    finished = true;
    await poll;
  }
}

/** A transfer between two servers: the outcome of `wait`, with the progress of `progressOf` shown meanwhile; the line ends either way. */
export async function waitTransferShowingProgress(rop: { progressOf: Operation; wait(): Promise<OperationData> }, line: ProgressLine): Promise<OperationData> {
  const shown = waitShowingProgress(rop.progressOf, line).catch(() => undefined);
  try {
    return await rop.wait();
  } finally {
    await shown;
    line.done();
  }
}
