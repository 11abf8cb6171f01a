/**
 * The console's detach sequence, as Incus reads it from a raw terminal:
 * ctrl+a then q detaches; ctrl+a is swallowed, so ctrl+a ctrl+a sends one
 * ctrl+a and ctrl+a x sends x.
 */

const CTRL_A = 0x01;
const Q = 0x71;

/** What one chunk of keyboard input becomes. */
export interface EscapeResult {
  /** Bytes to send to the console (those before a detach, without the escapes). */
  forward: Buffer;
  /** True when the chunk completed ctrl+a q. */
  detach: boolean;
}

/** Watches keyboard input for ctrl+a q, across chunk boundaries. */
export class DetachFilter {
  private armed = false;

  feed(chunk: Buffer): EscapeResult {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === CTRL_A && !this.armed) {
        this.armed = true;
        continue;
      }
      if (b === Q && this.armed) {
        this.armed = false;
        return { forward: Buffer.from(out), detach: true };
      }
      this.armed = false;
      out.push(b);
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
