/**
 * An exec with websockets (`wait-for-websocket`), as Incus runs it: one
 * secret per stream (`0`,`1`,`2`,`control`, or `0`,`control` when
 * interactive); the command starts once the data streams are connected
 * (and control too when interactive), within 10 s. Output is copied to the
 * websockets until EOF (then a barrier), stdin until the client's barrier.
 * On `control`: `window-resize` resizes the pty, `signal` signals the
 * command, and losing the control socket before the command ends kills it.
 * The operation ends with `metadata.return`, after every output barrier.
 */
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import type { WebSocket } from 'ws';
import type { InstanceExecFds, InstanceExecMetadata } from '../../../api/instance-exec';
import type { OperationContext, OperationWebsockets } from '../../operations/registry';
import { parseExecControl } from './control';
import { commandFailure } from './exit-status';
import type { ExecChild, ExecCommand, ExecPty, InstanceExec } from './instance-exec';
import { WsReceiver, WsSender, wsOpen } from './ws-streams';

type Stream = '0' | '1' | '2' | 'control';

/** How long the client has to connect the websockets it needs. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Keepalive pings on every websocket, as Incus sends them. */
const PING_INTERVAL_MS = 10_000;
/** Output still flowing after exit (background processes): idle gap and cap. */
const DRAIN_IDLE_MS = 100;
const DRAIN_MAX_MS = 1000;
/** How long a client gets to answer our close frame. */
const CLOSE_GRACE_MS = 2000;

/** What the session runs. */
export interface ExecSessionOptions {
  /** The running instance, as its driver runs commands in it. */
  exec: InstanceExec;
  cmd: ExecCommand;
  interactive: boolean;
  width: number;
  height: number;
  /** Called once the command runs. */
  onStarted?: () => void;
}

function secret(): string {
  return randomBytes(32).toString('hex');
}

export class ExecSession implements OperationWebsockets {
  readonly fds: InstanceExecFds;
  private readonly bySecret = new Map<string, Stream>();
  private readonly conns = new Map<Stream, WebSocket>();
  /** Inbound side of the data streams, set up as soon as each connects. */
  private readonly inbound = new Map<Stream, WsReceiver>();
  private readonly required: Stream[];
  private readonly allConnected: Promise<void>;
  private onAllConnected!: () => void;
  private proc: ExecChild | null = null;
  private pty: ExecPty | null = null;
  private readonly pendingControl: string[] = [];
  private killWanted = false;
  private exited = false;
  private over = false;

  constructor(private readonly o: ExecSessionOptions) {
    const streams: Stream[] = o.interactive ? ['0', 'control'] : ['0', '1', '2', 'control'];
    const fds: Record<string, string> = {};
    for (const s of streams) {
      fds[s] = secret();
      this.bySecret.set(fds[s], s);
    }
    this.fds = fds as unknown as InstanceExecFds;
    // Old clients never connect control in non-interactive mode, so Incus does not wait for it there.
    this.required = o.interactive ? ['0', 'control'] : ['0', '1', '2'];
    this.allConnected = new Promise((resolve) => (this.onAllConnected = resolve));
  }

  /** The operation's metadata while it runs. */
  metadata(): InstanceExecMetadata {
    return { fds: this.fds, command: this.o.cmd.command, environment: this.o.cmd.environment, interactive: this.o.interactive };
  }

  accepts(s: string): boolean {
    const stream = this.bySecret.get(s);
    return stream !== undefined && !this.conns.has(stream) && !this.over;
  }

  attach(s: string, ws: WebSocket): void {
    const stream = this.bySecret.get(s);
    if (stream === undefined || this.conns.has(stream) || this.over) {
      ws.close(1008, 'Websocket number already connected');
      return;
    }
    this.conns.set(stream, ws);
    const ping = setInterval(() => {
      if (wsOpen(ws)) ws.ping();
    }, PING_INTERVAL_MS);
    ping.unref();
    ws.once('close', () => clearInterval(ping));
    ws.on('error', () => undefined);
    if (stream === 'control') this.watchControl(ws);
    else this.inbound.set(stream, new WsReceiver(ws));
    if (this.required.every((r) => this.conns.has(r))) this.onAllConnected();
  }

  /** The operation's work: returns `{return: code}` or throws after setting it. */
  async run(ctx: OperationContext): Promise<Record<string, unknown>> {
    const onAbort = (): void => this.kill();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.waitConnected(ctx.signal);
      const code = await this.execute();
      const failure = commandFailure(code);
      if (failure) {
        ctx.setMetadata({ ...this.metadata(), return: code });
        throw failure;
      }
      return { return: code };
    } catch (err) {
      if (!this.exited) ctx.setMetadata({ ...this.metadata(), return: -1 });
      throw err;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.closeAll();
    }
  }

  private async waitConnected(signal: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Timed out waiting for websockets to connect')), CONNECT_TIMEOUT_MS);
      onAbort = () => reject(new Error('Operation cancelled'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([this.allConnected, failed]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Starts the command, mirrors its streams, and resolves with its exit status. */
  private async execute(): Promise<number> {
    const senders: WsSender[] = [];
    const ours: (Readable | Writable)[] = [];
    if (this.o.interactive) {
      const { process, pty } = await this.o.exec.pty(this.o.cmd, this.o.width, this.o.height);
      this.proc = process;
      this.pty = pty;
      ours.push(pty);
      senders.push(new WsSender(this.conns.get('0') as WebSocket, pty));
      (this.inbound.get('0') as WsReceiver).pipeTo(pty);
    } else {
      const p = await this.o.exec.piped(this.o.cmd);
      this.proc = p.process;
      ours.push(p.stdin, p.stdout, p.stderr);
      const stdin = this.inbound.get('0') as WsReceiver;
      stdin.pipeTo(p.stdin);
      // Ending the write side is what gives the command EOF on stdin.
      void stdin.done.then(() => p.stdin.end());
      p.stdin.on('error', () => undefined);
      const out = this.conns.get('1') as WebSocket;
      senders.push(new WsSender(out, p.stdout), new WsSender(this.conns.get('2') as WebSocket, p.stderr));
      // Without a control socket, a client that drops stdout is gone: stop the command.
      out.once('close', () => {
        if (!this.conns.has('control')) this.kill();
      });
    }
    const proc = this.proc;
    try {
      await proc.started;
      this.o.onStarted?.();
      if (this.killWanted) proc.kill();
      for (const text of this.pendingControl.splice(0)) this.control(text);
      const code = await proc.exited;
      this.exited = true;
      for (const s of senders) s.finishWhenIdle(DRAIN_IDLE_MS, DRAIN_MAX_MS);
      await Promise.all(senders.map((s) => s.done));
      return code;
    } finally {
      this.exited = true;
      for (const s of ours) s.destroy();
    }
  }

  private watchControl(ws: WebSocket): void {
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (this.proc === null) this.pendingControl.push(b.toString('utf8'));
      else this.control(b.toString('utf8'));
    });
    // Incus kills the command when the control socket goes away first.
    ws.once('close', () => {
      if (!this.exited && !this.over) this.kill();
    });
  }

  private control(text: string): void {
    const action = parseExecControl(text);
    if (!action || this.exited) return;
    try {
      if (action.kind === 'resize') {
        if (this.pty) this.pty.resize(action.width, action.height);
      } else {
        this.proc?.signal(action.signal);
      }
    } catch {
      // A resize or signal that fails is skipped, as Incus does.
    }
  }

  private kill(): void {
    if (this.exited) return;
    this.killWanted = true;
    this.proc?.kill();
  }

  private closeAll(): void {
    this.over = true;
    for (const ws of this.conns.values()) {
      if (!wsOpen(ws)) continue;
      ws.close(1000);
      // A client that never answers the close frame does not hold the socket for ws's 30 s.
      const t = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      t.unref();
      ws.once('close', () => clearTimeout(t));
    }
  }
}
