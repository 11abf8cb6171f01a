/**
 * One console session: the websocket side of a `websocket`-class operation
 * (secrets `0` and `control`, as Incus hands them out) bridged to the
 * container's console pty. Binary frames carry the bytes both ways; the
 * control socket takes `window-resize`. The session ends when the console
 * goes away, when either websocket closes, or when it is stopped (a
 * takeover with `force`, or a cancelled operation).
 */
import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { InstanceConsoleControl, InstanceConsoleMetadata } from '../../api/instance-console';
import type { Duplex } from 'node:stream';
import type { OperationContext, OperationWebsockets } from '../operations/registry';

/** An attached console as a driver hands it over (a container's pty, a VM's serial socket). */
export interface ConsoleStream {
  /** Bytes both ways. */
  readonly stream: Duplex;
  /** Settles once the stream has closed: null for a plain end, else what broke it. */
  readonly done: Promise<Error | null>;
  /** Sets the window size (a no-op where the console has none). */
  resize(cols: number, rows: number): void;
  /** Detaches; idempotent. */
  close(): void;
}

/** A driver's console access: attach, and the console log. */
export interface InstanceConsole {
  /** Attaches to a running instance's console (409 when another client holds it). */
  attach(inst: { project: string; name: string }, signal?: AbortSignal): Promise<ConsoleStream>;
  /** The console log (what the instance printed); `running` says where to read it from. */
  readLog(inst: { project: string; name: string }, running: boolean): Promise<Buffer>;
  /** Clears the console log. */
  clearLog(inst: { project: string; name: string }, running: boolean): Promise<void>;
  /** VMs: a new connection to the graphical console's SPICE server (one per SPICE channel). */
  openVga?(inst: { project: string; name: string }): Promise<Duplex>;
}

/** Output queued on the data socket beyond which the console is paused. */
const HIGH_WATER = 1024 * 1024;
/** Largest control message looked at (Incus bounds them too). */
const CONTROL_MAX = 64 * 1024;

export interface ConsoleSessionOptions {
  /** Initial window size; 0 leaves the pty as it is. */
  width: number;
  height: number;
  /** Opens the console once the data socket is there. */
  attach(signal: AbortSignal): Promise<ConsoleStream>;
  /** Called once the console is attached (for the lifecycle event). */
  onAttached?(): void;
}

/** Bridges a console pty to the two websockets of one operation. */
export class ConsoleSession implements OperationWebsockets {
  readonly metadata: InstanceConsoleMetadata;
  private data: WebSocket | null = null;
  private control: WebSocket | null = null;
  private pty: ConsoleStream | null = null;
  private size: { width: number; height: number };
  private dataConnected!: () => void;
  private readonly connected = new Promise<void>((resolve) => (this.dataConnected = resolve));
  private stopSession!: () => void;
  private readonly ended = new Promise<void>((resolve) => (this.stopSession = resolve));
  private finished = false;
  private stopped = false;

  constructor(private readonly opts: ConsoleSessionOptions) {
    this.metadata = { fds: { '0': secret(), control: secret() } };
    this.size = { width: opts.width, height: opts.height };
  }

  accepts(s: string): boolean {
    if (this.finished) return false;
    return (s === this.metadata.fds['0'] && !this.data) || (s === this.metadata.fds.control && !this.control);
  }

  attach(s: string, ws: WebSocket): void {
    if (!this.accepts(s)) {
      ws.close(1008, 'Wrong secret');
      return;
    }
    if (s === this.metadata.fds.control) {
      this.control = ws;
      ws.on('message', (msg: RawData) => this.onControl(msg));
      ws.on('close', () => this.stop());
    } else {
      this.data = ws;
      ws.on('close', () => this.stop());
      this.dataConnected();
    }
    ws.on('error', () => this.stop());
  }

  /** Ends the session (takeover, cancellation); the operation then completes. */
  stop(): void {
    this.stopped = true;
    this.stopSession();
  }

  /** The operation body: waits for the data socket, bridges until the end, cleans up. */
  async run(ctx: OperationContext): Promise<void> {
    const onAbort = (): void => this.stop();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([this.connected, this.ended]);
      if (this.stopped) return;
      const abort = new AbortController();
      void this.ended.then(() => abort.abort());
      const pty = await this.opts.attach(abort.signal);
      this.pty = pty;
      if (this.stopped) return;
      this.opts.onAttached?.();
      if (this.size.width > 0 && this.size.height > 0) this.resize(this.size.width, this.size.height);
      this.bridge(pty, this.data!);
      const failure = await Promise.race([pty.done, this.ended.then(() => null)]);
      if (failure) throw failure;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.cleanup();
    }
  }

  private bridge(pty: ConsoleStream, data: WebSocket): void {
    const out = pty.stream;
    out.on('data', (chunk: Buffer) => {
      if (data.readyState !== data.OPEN) return;
      data.send(chunk, { binary: true }, () => {
        if (out.isPaused() && data.bufferedAmount < HIGH_WATER / 4) out.resume();
      });
      if (data.bufferedAmount > HIGH_WATER) out.pause();
    });
    data.on('message', (msg: RawData, isBinary: boolean) => {
      // A text frame is Incus's end-of-input barrier: the console has no EOF to pass on.
      if (!isBinary) return;
      if (!out.write(toBuffer(msg))) {
        data.pause();
        out.once('drain', () => data.resume());
      }
    });
    out.resume();
  }

  private onControl(msg: RawData): void {
    const buf = toBuffer(msg);
    if (buf.length > CONTROL_MAX) return;
    let cmd: Partial<InstanceConsoleControl>;
    try {
      cmd = JSON.parse(buf.toString('utf8')) as Partial<InstanceConsoleControl>;
    } catch {
      return;
    }
    if (cmd?.command !== 'window-resize') return;
    const width = Number.parseInt(cmd.args?.width ?? '', 10);
    const height = Number.parseInt(cmd.args?.height ?? '', 10);
    if (!(width > 0 && height > 0 && width <= 65535 && height <= 65535)) return;
    this.size = { width, height };
    this.resize(width, height);
  }

  private resize(width: number, height: number): void {
    try {
      this.pty?.resize(width, height);
    } catch {
      // A console that is going away cannot be resized; the session ends on its own.
    }
  }

  private cleanup(): void {
    this.finished = true;
    this.stopped = true;
    this.pty?.close();
    const data = this.data;
    if (data && data.readyState === data.OPEN) {
      // Incus ends a stream with an empty text frame before closing.
      data.send('');
      data.close(1000);
    }
    const control = this.control;
    if (control && control.readyState === control.OPEN) control.close(1000);
  }
}

/** 32 random bytes in hex, like Incus's websocket secrets. */
function secret(): string {
  return randomBytes(32).toString('hex');
}

function toBuffer(msg: RawData): Buffer {
  if (Buffer.isBuffer(msg)) return msg;
  if (Array.isArray(msg)) return Buffer.concat(msg);
  return Buffer.from(msg);
}
