/**
 * `POST /1.0/instances/{name}/exec` with its websockets, as the Incus
 * client drives it: connect the streams the operation offers, copy stdin
 * up (ending it with a barrier), stdout/stderr down until their barriers,
 * wait for the operation, and hand back `metadata.return`.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type WebSocket from 'ws';
import type { InstanceExecControl, InstanceExecPost } from '../api/instance-exec';
import type { Operation as OperationData } from '../api/operation';
import { StatusCode } from '../api/response';
import type { IncusClient } from './client';
import { ApiError } from './errors';
import { Operation } from './operation';
import { openOperationSocket, receiveStream, sendEmptyStream, sendStream } from './ws-stream';

/** Where the command's streams come from and go to. */
export interface ExecIO {
  /** Sent as the command's stdin; absent or null: empty stdin. */
  stdin?: Readable | null;
  /** Receives stdout (interactive: the terminal's output); absent or null: dropped. */
  stdout?: Writable | null;
  /** Receives stderr (non-interactive only); absent or null: dropped. */
  stderr?: Writable | null;
  /**
   * Called once the control socket is connected, before the command starts.
   * Without it (and without `interactive`) no control socket is opened.
   */
  onControl?: (control: ExecControl) => void;
}

/** The control socket of a running exec. */
export interface ExecControl {
  /** Tells the server the terminal's new size (interactive). */
  resize(width: number, height: number): void;
  /** Delivers signal `sig` (e.g. 2 for SIGINT) to the command. */
  signal(sig: number): void;
}

/** Options of {@link execInstance}. */
export interface ExecOptions {
  project?: string;
  signal?: AbortSignal;
}

/** How an exec ended. */
export interface ExecResult {
  /** The command's exit status (`metadata.return`; 128+N after signal N). */
  code: number;
  /** The operation in its final state. */
  operation: OperationData;
}

/** `metadata.return` of a finished exec operation, or undefined. */
export function execReturn(op: OperationData | undefined): number | undefined {
  const v = op?.metadata?.return;
  return typeof v === 'number' ? v : undefined;
}

function controlOf(ws: WebSocket): ExecControl {
  const send = (msg: InstanceExecControl): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  return {
    resize: (width, height) => send({ command: 'window-resize', args: { width: String(width), height: String(height) } }),
    signal: (sig) => send({ command: 'signal', signal: sig }),
  };
}

/** The streams an exec offers: stdin (the terminal when interactive), stdout and stderr apart otherwise, and control. */
function expectedStreams(interactive: boolean, control: boolean): string[] {
  return [...(interactive ? ['0'] : ['0', '1', '2']), ...(control ? ['control'] : [])];
}

/**
 * Connections for the streams, started just after the POST is sent: their
 * connects (and TLS handshakes) overlap the server's work on the POST
 * instead of following its answer. Each is still its own connection,
 * checked as any other; those not used are closed.
 */
class EarlyConnections {
  private readonly pending = new Map<string, Duplex>();
  private readonly timer: NodeJS.Immediate;
  private closed = false;

  constructor(client: IncusClient, keys: string[]) {
    // Once the POST has gone out: it comes first at the server, and our side
    // of the handshakes runs while the server works on it.
    this.timer = setImmediate(() => {
      for (const k of keys) {
        const c = client.transport.preconnect?.();
        if (!c) return;
        // A failure here (refused, certificate) is reported by a fresh connect below.
        c.on('error', () => undefined);
        this.pending.set(k, c);
      }
    });
  }

  /** The connection for stream `key`, unless it failed already (or was not started yet). */
  take(key: string): Duplex | undefined {
    if (this.closed) return undefined;
    const c = this.pending.get(key);
    this.pending.delete(key);
    if (c?.destroyed) return undefined;
    return c;
  }

  /** Closes the ones not taken, and starts no more. */
  close(): void {
    this.closed = true;
    clearImmediate(this.timer);
    for (const c of this.pending.values()) c.destroy();
    this.pending.clear();
  }
}

/**
 * Runs `post.command` in instance `name` and resolves when it has ended
 * and its output has arrived. `wait-for-websocket` defaults to true; with
 * it false no stream is connected. Rejects with an {@link ApiError} when
 * the operation fails (e.g. "Command not found"); its `operation` still
 * carries `metadata.return` (see {@link execReturn}).
 */
export async function execInstance(
  client: IncusClient,
  name: string,
  post: InstanceExecPost,
  io: ExecIO = {},
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const body: InstanceExecPost = { 'wait-for-websocket': true, interactive: false, environment: {}, ...post };
  // The control socket is only needed to talk to the command (non-interactive
  // commands run without it, as with old clients); skipping it saves a handshake.
  const wantControl = io.onControl !== undefined || body.interactive === true;
  const early = new EarlyConnections(client, body['wait-for-websocket'] ? expectedStreams(body.interactive === true, wantControl) : []);
  let op: Operation;
  let fds: Record<string, string> | null;
  let finished: Promise<OperationData>;
  try {
    const env = await client.request('POST', `/1.0/instances/${encodeURIComponent(name)}/exec`, {
      body,
      project: opts.project,
      signal: opts.signal,
    });
    if (env.type !== 'async') throw new ApiError(0, `Expected an operation from POST exec, got a ${env.type} response`);
    op = new Operation(client, env.operation, opts.project ?? client.project);
    fds = (op.data.metadata?.fds ?? null) as Record<string, string> | null;
    finished = op.wait(opts.signal);
  } catch (err) {
    early.close();
    throw err;
  }
  if (!fds) {
    early.close();
    return { code: execReturn(await finished) ?? -1, operation: op.data };
  }
  // Failures are read below, once the streams are wired (or could not be).
  finished.catch(() => undefined);

  const streams = fds;
  const keys = Object.keys(streams).filter((k) => typeof streams[k] === 'string' && (k !== 'control' || wantControl));
  const sockets = new Map<string, WebSocket>();
  const stops: (() => void)[] = [];
  const outputs: Promise<void>[] = [];
  // Each stream is wired the moment its socket opens: the server may start
  // the command (and send output) before our other sockets are open.
  const wire = (key: string, ws: WebSocket): void => {
    sockets.set(key, ws);
    if (key === 'control') {
      ws.on('error', () => undefined);
      io.onControl?.(controlOf(ws));
      return;
    }
    if (key === '0') {
      if (io.stdin) stops.push(sendStream(ws, io.stdin));
      else if (!body.interactive) sendEmptyStream(ws);
      if (body.interactive) outputs.push(receiveStream(ws, io.stdout ?? null));
    } else if (key === '1') {
      outputs.push(receiveStream(ws, io.stdout ?? null));
    } else if (key === '2') {
      outputs.push(receiveStream(ws, io.stderr ?? null));
    }
  };
  try {
    const attempts = keys.map((k) => openOperationSocket(client.transport, op.id, streams[k]!, (ws) => wire(k, ws), early.take(k)));
    early.close();
    try {
      await Promise.all(attempts);
    } catch (err) {
      const settled = await Promise.allSettled(attempts);
      if (!body.interactive && keys.every((k, i) => k === 'control' || settled[i]!.status === 'fulfilled')) {
        // Only the control socket came too late: a quick command had ended already (nothing left to signal).
        const final = await finished;
        await Promise.all(outputs);
        return { code: execReturn(final) ?? -1, operation: final };
      }
      // The server would wait 10 s for the missing stream: end it now.
      await op.cancel().catch(() => undefined);
      // A socket refused because the operation had already failed: its error is the one that matters.
      const opFailure = await finished.then(
        () => null,
        (e: unknown) => e,
      );
      if (opFailure instanceof ApiError && opFailure.operation?.status_code === StatusCode.Failure) throw opFailure;
      throw err;
    }
    const final = await finished;
    await Promise.all(outputs);
    return { code: execReturn(final) ?? -1, operation: final };
  } finally {
    early.close();
    for (const stop of stops) stop();
    for (const ws of sockets.values()) ws.close();
  }
}
