/**
 * A terminal in a VM as the exec layer sees one (ExecPty): a Duplex whose
 * writes go to the agent command's stdin channel, whose reads come from its
 * output channel (the pty master's output in the guest), and whose resize
 * is the agent's `resize` request (the guest kernel then sends SIGWINCH).
 */
import { Duplex } from 'node:stream';
import type { ExecPty } from '../../exec/instance-exec';
import type { AgentExec } from './agent-client';

/** Sets the window size of the guest terminal (see AgentClient.resize). */
export type AgentResize = (width: number, height: number) => Promise<void>;

/** The terminal of one agent command started with a pty. */
export class AgentPty extends Duplex implements ExecPty {
  constructor(
    private readonly run: AgentExec,
    private readonly resizeTerminal: AgentResize,
  ) {
    super({ allowHalfOpen: true });
    run.stdout.on('data', (b: Buffer) => {
      if (!this.push(b)) run.stdout.pause();
    });
    // The agent ends the output when the command exits (or the connection goes).
    run.stdout.once('end', () => this.push(null));
    // A write after the connection dropped: the exit promise reports that.
    run.stdin.on('error', () => undefined);
  }

  /** Asks the agent for a new window size; a failure (command gone, bad size) is dropped, as Incus skips it. */
  resize(width: number, height: number): void {
    if (this.destroyed) return;
    this.resizeTerminal(width, height).catch(() => undefined);
  }

  override _read(): void {
    this.run.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // Completion once the bytes are on the connection: the stream's own backpressure.
    this.run.stdin.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    // A terminal has no end of input: the command ends by itself, or by a signal.
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Output still arriving is drained and dropped; the command itself is the caller's to kill.
    this.run.stdout.removeAllListeners('data');
    this.run.stdout.resume();
    cb(err);
  }
}
