/**
 * A VGA console session (`incus console --type vga`), as Incus runs it: the
 * `0` secret may be connected many times, each websocket a new connection
 * to the VM's SPICE socket mirrored byte for byte (a SPICE client opens one
 * per channel: main, display, inputs, cursor...); the session ends when
 * the control websocket closes, and every mirrored connection with it.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { RawData, WebSocket } from 'ws';
import type { InstanceConsoleMetadata } from '../../api/instance-console';
import type { OperationContext, OperationWebsockets } from '../operations/registry';

/** Output queued on a websocket beyond which the SPICE socket is paused. */
const HIGH_WATER = 1024 * 1024;

export interface VgaSessionOptions {
  /** Opens a new connection to the VM's SPICE server. */
  connect(): Promise<Duplex>;
  /** Called once, when the control websocket connects (the lifecycle event). */
  onAttached?(): void;
}

export class VgaSession implements OperationWebsockets {
  readonly metadata: InstanceConsoleMetadata;
  private control: WebSocket | null = null;
  private readonly mirrors = new Set<{ ws: WebSocket; spice: Duplex | null }>();
  private stopSession!: () => void;
  private readonly ended = new Promise<void>((resolve) => (this.stopSession = resolve));
  private finished = false;

  constructor(private readonly opts: VgaSessionOptions) {
    this.metadata = { fds: { '0': randomBytes(32).toString('hex'), control: randomBytes(32).toString('hex') } };
  }

  accepts(s: string): boolean {
    if (this.finished) return false;
    return s === this.metadata.fds['0'] || (s === this.metadata.fds.control && !this.control);
  }

  attach(s: string, ws: WebSocket): void {
    if (!this.accepts(s)) {
      ws.close(1008, 'Wrong secret');
      return;
    }
    if (s === this.metadata.fds.control) {
      this.control = ws;
      this.opts.onAttached?.();
      ws.on('close', () => this.stop());
      ws.on('error', () => this.stop());
      return;
    }
    void this.mirror(ws);
  }

  /** Ends the session; the operation then completes. */
  stop(): void {
    this.stopSession();
  }

  /** The operation body: lasts until the control websocket goes (or a cancel). */
  async run(ctx: OperationContext): Promise<void> {
    const onAbort = (): void => this.stop();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.ended;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.finished = true;
      for (const m of this.mirrors) {
        m.spice?.destroy();
        if (m.ws.readyState === m.ws.OPEN || m.ws.readyState === m.ws.CONNECTING) m.ws.close(1000);
      }
      this.control?.close(1000);
    }
  }

  /** One SPICE channel: a websocket and its own connection to the SPICE socket. */
  private async mirror(ws: WebSocket): Promise<void> {
    const m: { ws: WebSocket; spice: Duplex | null } = { ws, spice: null };
    this.mirrors.add(m);
    const early: Buffer[] = [];
    ws.on('message', (msg: RawData) => {
      const b = Buffer.isBuffer(msg) ? msg : Array.isArray(msg) ? Buffer.concat(msg) : Buffer.from(msg);
      if (m.spice) m.spice.write(b);
      else early.push(b);
    });
    const drop = (): void => {
      this.mirrors.delete(m);
      m.spice?.destroy();
    };
    ws.on('close', drop);
    ws.on('error', drop);
    let spice: Duplex;
    try {
      spice = await this.opts.connect();
    } catch {
      ws.close(1011, 'The VGA console is not available');
      this.mirrors.delete(m);
      return;
    }
    if (this.finished || ws.readyState !== ws.OPEN) {
      spice.destroy();
      return;
    }
    m.spice = spice;
    for (const b of early.splice(0)) spice.write(b);
    spice.on('data', (chunk: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(chunk, { binary: true }, () => {
        if (spice.isPaused() && ws.bufferedAmount < HIGH_WATER / 4) spice.resume();
      });
      if (ws.bufferedAmount > HIGH_WATER) spice.pause();
    });
    spice.on('close', () => ws.close(1000));
    spice.on('error', () => ws.close(1011));
  }
}
