/**
 * The daemon's side of the guest agent: connects to the VM's virtio-serial
 * socket (`qemu.agent`, QEMU listens), authenticates with the secret from the
 * config share, then runs commands with their streams as Node streams and
 * reads the guest's state. One client per connection; requests may overlap.
 * The agent is guest-controlled: replies are shape-checked and unknown ids
 * or channels are ignored. Command output is pushed into the stdout/stderr
 * streams as it arrives (no backpressure towards the agent yet; the agent
 * itself stops reading a command once 1 MiB waits unsent).
 */
import { createConnection, type Socket } from 'node:net';
import { PassThrough, type Readable, Writable } from 'node:stream';
import {
  AGENT_MAGIC,
  type AgentFrame,
  type AgentRequest,
  encodeControl,
  encodeFrame,
  type ExecReply,
  type ExitEvent,
  FrameDecoder,
  type GuestState,
  STDIN_CHUNK,
} from './agent-protocol';

/** An error the agent answered with (`code` is HTTP-like: 400, 403, 404...). */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

/** What to run; see {@link ExecRequest}. */
export interface AgentExecOptions {
  argv: string[];
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Run on a terminal of this size (0 x 0: the kernel's default); output then all comes on stdout. */
  pty?: { width: number; height: number };
}

/** A running command. */
export interface AgentExec {
  /** PID inside the guest. */
  pid: number;
  /** Ends with EOF to the command when ended (with a pty: the end is not passed on). */
  stdin: Writable;
  /** With a pty: the terminal's output, ending when the command exits (or the terminal is gone). */
  stdout: Readable;
  /** With a pty: already ended. */
  stderr: Readable;
  /** Settles after stdout and stderr ended: the exit code (128 + signal when killed). */
  exit: Promise<{ code: number; signal?: number }>;
}

/** Who receives a channel's frames (file sessions and opened files). */
export interface ChannelListener {
  data(payload: Buffer): void;
  /** The agent's file-closed event for this channel: 0, or the errno that ended it. */
  closed?(errno: number): void;
  /** The connection failed or closed. */
  failed(err: Error): void;
}

interface Pending {
  resolve: (msg: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

interface Streams {
  stdout: PassThrough;
  stderr: PassThrough;
  stdinChannel: number;
  outChannel: number;
  errChannel: number;
  resolveExit: (v: { code: number; signal?: number }) => void;
  rejectExit: (err: Error) => void;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

/** Throws a RangeError unless `v` is an integer window dimension in [min, 65535]. */
function checkDimension(op: string, what: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min || v > 65535) throw new RangeError(`${op}: ${what} must be an integer in [${min}, 65535], got ${v}`);
}

/** A connection to one VM's agent. */
export class AgentClient {
  private readonly decoder = new FrameDecoder({ expectMagic: true });
  private readonly pending = new Map<number, Pending>();
  /** Running commands by exec request id. */
  private readonly execs = new Map<number, Streams>();
  /** Listeners of file channels. */
  private readonly channels = new Map<number, ChannelListener>();
  private nextId = 1;
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('Agent connection closed')));
  }

  /**
   * Connects to `socketPath` and authenticates with `secret`. Rejects with an
   * {@link AgentError} 403 on a wrong secret (the connection is then closed),
   * or when nothing answers within `timeoutMs` (no agent running).
   */
  static async connect(socketPath: string, secret: string, opts: { timeoutMs?: number } = {}): Promise<AgentClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(socketPath, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    return AgentClient.attach(socket, secret, opts);
  }

  /** Authenticates over an already connected stream (the agent's --fd mode in tests); see {@link connect}. */
  static async attach(socket: Socket, secret: string, opts: { timeoutMs?: number } = {}): Promise<AgentClient> {
    const client = new AgentClient(socket);
    socket.write(AGENT_MAGIC);
    const timeoutMs = opts.timeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.request({ id: 0, op: 'hello', secret }),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new AgentError("VM agent isn't currently running", 400)), timeoutMs);
        }),
      ]);
    } catch (e) {
      client.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** Starts a command; its streams flow until it exits. */
  async exec(opts: AgentExecOptions): Promise<AgentExec> {
    const { pty, ...rest } = opts;
    if (pty) {
      checkDimension('exec', 'pty width', pty.width, 0);
      checkDimension('exec', 'pty height', pty.height, 0);
    }
    const id = this.nextId++;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let resolveExit!: Streams['resolveExit'];
    let rejectExit!: Streams['rejectExit'];
    const exit = new Promise<{ code: number; signal?: number }>((res, rej) => {
      resolveExit = res;
      rejectExit = rej;
    });
    exit.catch(() => undefined); // callers that only read streams must not crash the process
    // Registered before the request so output arriving with the reply is not lost.
    const streams: Streams = { stdout, stderr, stdinChannel: -1, outChannel: -1, errChannel: -1, resolveExit, rejectExit };
    this.execs.set(id, streams);
    let reply: Record<string, unknown>;
    try {
      const terminal = pty ? { pty: true, width: pty.width, height: pty.height } : {};
      reply = await this.request({ id, op: 'exec', ...rest, ...terminal });
    } catch (e) {
      this.execs.delete(id);
      throw e;
    }
    const r = reply as Partial<ExecReply>;
    const streamsOk = pty ? r.pty === true : isUint(r.stderr);
    if (!isUint(r.pid) || !isUint(r.stdin) || !isUint(r.stdout) || !streamsOk) {
      this.execs.delete(id);
      throw new AgentError('Malformed exec reply from the agent', 502);
    }
    // A terminal has one output stream.
    if (pty) stderr.end();
    streams.stdinChannel = r.stdin;
    const socket = this.socket;
    const stdinChannel = r.stdin;
    const stdin = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (let off = 0; off < chunk.length; off += STDIN_CHUNK) {
          const part = chunk.subarray(off, off + STDIN_CHUNK);
          if (off + STDIN_CHUNK >= chunk.length) socket.write(encodeFrame(stdinChannel, part), (e) => cb(e ?? null));
          else socket.write(encodeFrame(stdinChannel, part));
        }
        if (chunk.length === 0) cb();
      },
      final(cb) {
        socket.write(encodeFrame(stdinChannel), (e) => cb(e ?? null));
      },
    });
    return { pid: r.pid, stdin, stdout, stderr, exit };
  }

  /** The guest's hostname, uptime, memory and network interfaces. */
  async state(): Promise<GuestState> {
    const reply = await this.request({ id: this.nextId++, op: 'state' });
    const s = reply.state;
    if (!isObj(s) || typeof s.hostname !== 'string' || !isObj(s.memory) || !isObj(s.network)) {
      throw new AgentError('Malformed state reply from the agent', 502);
    }
    // Guest-controlled: the numbers the daemon passes on must be numbers.
    const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : -1);
    const root = isObj(s.disk) && isObj(s.disk.root) ? s.disk.root : undefined;
    const mem = s.memory;
    return {
      ...(s as unknown as GuestState),
      memory: { total: num(mem.total), free: num(mem.free), available: num(mem.available) },
      processes: num(s.processes),
      disk: root && num(root.usage) >= 0 && num(root.total) >= 0 ? { root: { usage: num(root.usage), total: num(root.total) } } : {},
    };
  }

  /** Opens a channel for file requests (native/agent/files.c); see AgentFileSession. */
  async filesChannel(): Promise<number> {
    const reply = await this.request({ id: this.nextId++, op: 'files' });
    if (!isUint(reply.channel) || reply.channel === 0) throw new AgentError('Malformed files reply from the agent', 502);
    return reply.channel;
  }

  /** Routes the frames of `channel` to `l` until {@link unlisten}. */
  listen(channel: number, l: ChannelListener): void {
    if (this.closedError) {
      l.failed(this.closedError);
      return;
    }
    this.channels.set(channel, l);
  }

  unlisten(channel: number): void {
    this.channels.delete(channel);
  }

  /** Sends one frame on `channel` (none: a zero-length frame); resolves once the socket took it. */
  send(channel: number, payload?: Buffer): Promise<void> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.socket.write(encodeFrame(channel, payload), (e) => (e ? reject(e) : resolve())));
  }

  /** Asks the guest to power off (its `poweroff`, forced after 10 s); resolves once the agent took it. */
  async shutdown(): Promise<void> {
    await this.request({ id: this.nextId++, op: 'shutdown' });
  }

  /** Sends `signal` to a command this connection started. */
  async signal(pid: number, signal: number): Promise<void> {
    await this.request({ id: this.nextId++, op: 'signal', pid, signal });
  }

  /** Sets the window size of the terminal of a command this connection started with a pty (the guest kernel sends SIGWINCH). */
  async resize(pid: number, width: number, height: number): Promise<void> {
    checkDimension('resize', 'width', width, 1);
    checkDimension('resize', 'height', height, 1);
    await this.request({ id: this.nextId++, op: 'resize', pid, width, height });
  }

  /** False once the connection has closed or failed. */
  get isOpen(): boolean {
    return this.closedError === undefined;
  }

  /** Closes the connection (the agent then kills this session's commands). */
  close(): void {
    this.socket.destroy();
  }

  private request(msg: AgentRequest): Promise<Record<string, unknown>> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      this.socket.write(encodeControl(msg));
    });
  }

  private onData(data: Buffer): void {
    let frames: AgentFrame[];
    try {
      frames = this.decoder.push(data);
    } catch (e) {
      this.fail(e as Error);
      this.socket.destroy();
      return;
    }
    for (const f of frames) {
      if (f.channel === 0) this.onControl(f.payload);
      else this.onStream(f.channel, f.payload);
    }
  }

  private onControl(payload: Buffer): void {
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString('utf8'));
    } catch {
      return; // not ours to act on
    }
    if (!isObj(msg)) return;
    if (msg.event === 'exit') return this.onExit(msg as Partial<ExitEvent>);
    if (msg.event === 'file-closed') {
      if (isUint(msg.channel) && isUint(msg.errno)) this.channels.get(msg.channel)?.closed?.(msg.errno);
      return;
    }
    if (msg.event === 'reset') {
      this.fail(new AgentError(`Agent reset the session: ${String(msg.error)}`, 502));
      this.socket.destroy();
      return;
    }
    if (!isUint(msg.id)) return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok === true) {
      // Channels are bound now, not when the promise settles: output may follow in this same chunk.
      const s = this.execs.get(msg.id);
      if (s && isUint(msg.stdout)) {
        s.outChannel = msg.stdout;
        // Absent with a pty; -1 matches no channel.
        s.errChannel = isUint(msg.stderr) ? msg.stderr : -1;
      }
      p.resolve(msg);
    } else {
      const code = typeof msg.code === 'number' ? msg.code : 500;
      p.reject(new AgentError(typeof msg.error === 'string' ? msg.error : 'Agent request failed', code));
      if (code === 403) this.socket.destroy();
    }
  }

  private onStream(channel: number, payload: Buffer): void {
    const l = this.channels.get(channel);
    if (l) return l.data(payload);
    for (const s of this.execs.values()) {
      const target = channel === s.outChannel ? s.stdout : channel === s.errChannel ? s.stderr : undefined;
      if (!target) continue;
      if (payload.length === 0) target.end();
      else if (!target.writableEnded) target.write(payload);
      return;
    }
  }

  private onExit(ev: Partial<ExitEvent>): void {
    if (!isUint(ev.id) || !isUint(ev.code)) return;
    const s = this.execs.get(ev.id);
    if (!s) return;
    this.execs.delete(ev.id);
    s.stdout.end();
    s.stderr.end();
    s.resolveExit(isUint(ev.signal) ? { code: ev.code, signal: ev.signal } : { code: ev.code });
  }

  private fail(err: Error): void {
    if (!this.closedError) this.closedError = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const s of this.execs.values()) {
      // Ended rather than destroyed with the error: a reader without an error handler must not crash the daemon.
      s.stdout.end();
      s.stderr.end();
      s.rejectExit(err);
    }
    this.execs.clear();
    const listeners = [...this.channels.values()];
    this.channels.clear();
    for (const l of listeners) l.failed(err);
  }
}
