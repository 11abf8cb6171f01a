/**
 * A QMP (QEMU Machine Protocol) client over the monitor's Unix socket, in
 * plain TypeScript: greeting, capabilities negotiation, commands correlated by
 * id, events, and timeouts so no call can hang on a silent QEMU.
 *
 * QEMU serves one QMP client per monitor socket at a time; a second client
 * waits in the listen backlog until the first disconnects, so a connect to a
 * monitor that another client still holds times out rather than hangs.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';

/** Default wait for the greeting and the capabilities answer. */
export const QMP_CONNECT_TIMEOUT_MS = 5000;
/** Default wait for one command's answer. */
export const QMP_COMMAND_TIMEOUT_MS = 10000;
/** A line longer than this is a broken peer, not a QMP message. */
const MAX_LINE_BYTES = 64 * 1024 * 1024;

/** An error answer from QEMU; `message` is QEMU's own `desc`. */
export class QmpError extends Error {
  /** QEMU's error class, e.g. `GenericError`, `CommandNotFound`, `DeviceNotFound`. */
  readonly errorClass: string;
  /** The command that failed. */
  readonly command: string;
  constructor(command: string, errorClass: string, desc: string) {
    super(desc);
    this.name = 'QmpError';
    this.errorClass = errorClass;
    this.command = command;
  }
}

/** A QMP event as QEMU sent it. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** Seconds since the epoch, with microseconds, from QEMU's timestamp. */
  timestamp: number;
}

/** QEMU's version as given in the greeting. */
export interface QmpVersion {
  major: number;
  minor: number;
  micro: number;
  package: string;
}

/** Options for {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** Greeting + qmp_capabilities deadline (default {@link QMP_CONNECT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Default per-command deadline (default {@link QMP_COMMAND_TIMEOUT_MS}). */
  commandTimeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

type Message = Record<string, unknown>;

/**
 * One connection to a QEMU monitor. Events: `event` (QmpEvent) for every
 * event, the event's name (e.g. `SHUTDOWN`, `STOP`, `RESUME`, `POWERDOWN`,
 * `DEVICE_DELETED`) with the QmpEvent, and `close` (Error | undefined) once.
 */
export class QmpClient extends EventEmitter {
  /** QEMU's version from the greeting. */
  readonly version: QmpVersion;
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;

  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly commandTimeoutMs: number;
  private nextId = 1;
  private isClosed = false;
  private closeError: Error | undefined;
  private resolveClosed!: () => void;

  private constructor(socket: Socket, version: QmpVersion, commandTimeoutMs: number) {
    super();
    this.socket = socket;
    this.version = version;
    this.commandTimeoutMs = commandTimeoutMs;
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /**
   * Connects to the monitor at `path`, reads the greeting and negotiates
   * capabilities. Rejects (and closes the socket) on any failure or when the
   * deadline passes, e.g. when another client holds the monitor.
   */
  static connect(path: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.timeoutMs ?? QMP_CONNECT_TIMEOUT_MS;
    const commandTimeoutMs = opts.commandTimeoutMs ?? QMP_COMMAND_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      let client: QmpClient | null = null;
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        client?.shutdown(err);
        reject(err);
      };
      const timer = setTimeout(
        () => fail(new Error(`QMP connection to ${path} timed out after ${timeoutMs}ms (is another client holding the monitor?)`)),
        timeoutMs,
      );
      const reader = new LineReader((msg) => {
        if (client) {
          client.dispatch(msg);
          return;
        }
        const greeting = msg.QMP as { version?: { qemu?: Partial<QmpVersion>; package?: string } } | undefined;
        if (!greeting) {
          fail(new Error(`QMP greeting expected from ${path}, got ${JSON.stringify(msg).slice(0, 200)}`));
          return;
        }
        const q = greeting.version?.qemu ?? {};
        client = new QmpClient(
          socket,
          { major: q.major ?? 0, minor: q.minor ?? 0, micro: q.micro ?? 0, package: greeting.version?.package ?? '' },
          commandTimeoutMs,
        );
        client.execute('qmp_capabilities', undefined, { timeoutMs }).then(
          () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(client as QmpClient);
          },
          (err: Error) => fail(err),
        );
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          reader.push(chunk);
        } catch (err) {
          const e = err as Error;
          if (!settled) {
            fail(e);
            return;
          }
          socket.destroy();
          client?.shutdown(e);
        }
      });
      socket.on('error', (err) => {
        if (client && settled) client.shutdown(err);
        else fail(new Error(`Failed to connect to QMP socket ${path}: ${err.message}`));
      });
      socket.on('close', () => {
        if (client && settled) client.shutdown(undefined);
        else fail(new Error(`QMP socket ${path} closed before the handshake completed`));
      });
    });
  }

  /** Whether the connection is still open. */
  get isOpen(): boolean {
    return !this.isClosed;
  }

  /**
   * Runs one QMP command and resolves with its `return` value. Rejects with a
   * {@link QmpError} carrying QEMU's `desc`, or with an Error on timeout or
   * when the connection closes first.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.isClosed) {
      return Promise.reject(new Error(`QMP connection closed${this.closeError ? `: ${this.closeError.message}` : ''}`));
    }
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A late answer to this id is dropped by dispatch().
        this.pending.delete(id);
        reject(new Error(`QMP command ${command} got no answer within ${timeoutMs}ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: Message = { execute: command, id };
      if (args !== undefined) msg.arguments = args;
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Runs a human monitor (HMP) command line and resolves with its text output. */
  hmp(commandLine: string, opts: { timeoutMs?: number } = {}): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, opts);
  }

  /** Closes the connection; pending commands reject. QEMU keeps running. */
  close(): void {
    this.socket.end();
    this.socket.destroy();
    this.shutdown(undefined);
  }

  private dispatch(msg: Message): void {
    if (typeof msg.event === 'string') {
      const ts = msg.timestamp as { seconds?: number; microseconds?: number } | undefined;
      const event: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown>) ?? {},
        timestamp: (ts?.seconds ?? 0) + (ts?.microseconds ?? 0) / 1e6,
      };
      this.emit('event', event);
      this.emit(event.event, event);
      return;
    }
    const id = msg.id;
    if (typeof id !== 'number') return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if ('error' in msg) {
      const e = (msg.error ?? {}) as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'Unknown QMP error'));
    } else {
      p.resolve(msg.return);
    }
  }

  private shutdown(err: Error | undefined): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.closeError = err;
    const reason = new Error(`QMP connection closed before ${err ? `an answer (${err.message})` : 'an answer'}`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new Error(`${reason.message} to ${p.command}`));
    }
    this.emit('close', err);
    this.resolveClosed();
  }
}

/** Splits a byte stream into JSON lines (QEMU ends each with CRLF). */
export class LineReader {
  private buf = '';
  constructor(private readonly onMessage: (msg: Message) => void) {}

  /** Feeds one chunk; calls onMessage for each whole line; throws on a malformed line. */
  push(chunk: Buffer | string): void {
    this.buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line === '') continue;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch {
        throw new Error(`Malformed QMP message: ${line.slice(0, 200)}`);
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
        throw new Error(`Malformed QMP message: ${line.slice(0, 200)}`);
      }
      this.onMessage(msg as Message);
    }
    if (this.buf.length > MAX_LINE_BYTES) throw new Error('QMP message exceeds 64 MiB');
  }
}
