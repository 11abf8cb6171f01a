/**
 * The wire format between incusd and incus-agent (native/agent/agent.h holds
 * the same description) over the VM's virtio-serial port
 * `org.linuxcontainers.incus`, which is one byte stream, so it is multiplexed:
 *
 * - Each host connection starts with the 8 magic bytes {@link AGENT_MAGIC};
 *   the agent discards input until it sees them (resynchronisation), and the
 *   magic at a frame boundary starts a new session. The agent answers with the
 *   same magic; the host skips whatever came before it (output the agent had
 *   queued for a previous connection).
 * - Then frames both ways: `[u32 channel BE][u32 length BE][payload]`, length at
 *   most {@link MAX_FRAME}. Channel 0 carries one JSON object per frame
 *   (requests with `id` and `op`, replies with the same `id`, and events);
 *   other channels carry a command's stdin/stdout/stderr bytes, a zero-length
 *   frame being end of file.
 * - A command run with `pty` gets a terminal: its reply names `stdin` and
 *   `stdout` only (everything the terminal prints comes on stdout), EOF on
 *   stdin is ignored (a terminal has no end of input), stdout ends when the
 *   command exits (the agent drains the terminal and closes it, hanging up
 *   any background process left on it, as Incus does) or when every holder
 *   of the terminal has closed it, and `resize` sets its window size.
 * - The first frame must be `hello` with the secret from the config share's
 *   `agent.secret`; a wrong one is answered 403, the rest of that input is
 *   discarded and the agent awaits the magic again (the client closes).
 * - The agent may miss a very quick disconnect/reconnect of the host (the
 *   port has no connection counter); a hello that goes unanswered is then
 *   retried on a new connection.
 *
 * Everything coming from the agent is guest-controlled: the decoder bounds
 * frame sizes and the client validates message shapes.
 */

/** Bytes that open each connection. */
export const AGENT_MAGIC = Buffer.from('INCUSAG1', 'latin1');
/** Largest payload of one frame, either way. */
export const MAX_FRAME = 1 << 20;
/** Largest chunk the host puts in one stdin frame. */
export const STDIN_CHUNK = 64 * 1024;
/** The virtio-serial port name the agent looks for in the guest. */
export const AGENT_PORT_NAME = 'org.linuxcontainers.incus';
/** File on the config share holding the secret. */
export const AGENT_SECRET_FILE = 'agent.secret';

/** One decoded frame. */
export interface AgentFrame {
  channel: number;
  payload: Buffer;
}

/** `hello`: must be the first request. */
export interface HelloRequest {
  id: number;
  op: 'hello';
  secret: string;
}

/** `exec`: argv is executed as is (searched in the command's PATH when it has no slash). */
export interface ExecRequest {
  id: number;
  op: 'exec';
  argv: string[];
  /** `KEY=value` strings; the command gets only these. */
  env?: string[];
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Run on a new pty, the command's controlling terminal. */
  pty?: boolean;
  /** Initial window size (with `pty`; 0..65535, 0 leaves it unset). */
  width?: number;
  height?: number;
}

/** `state`: hostname, uptime, memory and interfaces. */
export interface StateRequest {
  id: number;
  op: 'state';
}

/** `shutdown`: the guest's `poweroff`, then a forced power-off (synced) when still up after 10 s. */
export interface ShutdownRequest {
  id: number;
  op: 'shutdown';
}

/** `signal`: sends a signal to a command this session started. */
export interface SignalRequest {
  id: number;
  op: 'signal';
  pid: number;
  signal: number;
}

/** `resize`: sets the window size (1..65535) of the pty of a command this session started. */
export interface ResizeRequest {
  id: number;
  op: 'resize';
  pid: number;
  width: number;
  height: number;
}

/**
 * `files`: a channel for file requests, the forkfile messages of
 * lib/native/forkfile-wire.ts one per frame (replies come back on it);
 * OPEN's reply names in its pad field the channel of the opened file:
 * read-only, the agent streams the content there; for writing, the host's
 * frames there are written, a zero-length one closing it. Both end with the
 * `file-closed` event.
 */
export interface FilesRequest {
  id: number;
  op: 'files';
}

export type AgentRequest = HelloRequest | ExecRequest | StateRequest | SignalRequest | ResizeRequest | FilesRequest | ShutdownRequest;

/** A failed request. */
export interface ErrorReply {
  id: number;
  error: string;
  code: number;
}

/** Reply to `exec`: the channels of the command's streams. */
export interface ExecReply {
  id: number;
  ok: true;
  pid: number;
  /** Present (true) when the command runs on a pty. */
  pty?: true;
  stdin: number;
  stdout: number;
  /** Absent with a pty: the terminal's output is all on stdout. */
  stderr?: number;
}

/** One interface in {@link GuestState}, shaped like Incus's InstanceStateNetwork. */
export interface GuestInterface {
  addresses: { family: 'inet' | 'inet6'; address: string; netmask: string; scope: string }[];
  hwaddr: string;
  state: 'up' | 'down';
  type: string;
}

/** Reply to `state`. */
export interface GuestState {
  hostname: string;
  /** Seconds since the guest booted. */
  uptime: number;
  /** Bytes. */
  memory: { total: number; free: number; available: number };
  /** Processes running in the guest (-1: unknown). */
  processes: number;
  /** The root filesystem's use, bytes. */
  disk: { root?: { usage: number; total: number } };
  network: Record<string, GuestInterface>;
}

/** `exit` event: sent after the command's stdout and stderr reached EOF. */
export interface ExitEvent {
  event: 'exit';
  id: number;
  pid: number;
  /** Exit status, or 128 + signal. */
  code: number;
  signal?: number;
}

/** `reset` event: the agent dropped the session (malformed input). */
export interface ResetEvent {
  event: 'reset';
  error: string;
}

/** Encodes one frame. */
export function encodeFrame(channel: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (!Number.isInteger(channel) || channel < 0 || channel > 0xffffffff) throw new RangeError(`Invalid channel ${channel}`);
  if (body.length > MAX_FRAME) throw new RangeError(`Frame of ${body.length} bytes exceeds ${MAX_FRAME}`);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(channel, 0);
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** Encodes a control message (channel 0). */
export function encodeControl(msg: AgentRequest): Buffer {
  return encodeFrame(0, JSON.stringify(msg));
}

/**
 * Splits a byte stream into frames; throws on a frame above {@link MAX_FRAME}
 * (the stream is then unusable). With `expectMagic`, bytes before the first
 * {@link AGENT_MAGIC} are skipped and a magic at a frame boundary is dropped.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  private synced: boolean;
  private readonly magic: boolean;

  constructor(opts: { expectMagic?: boolean } = {}) {
    this.magic = opts.expectMagic === true;
    this.synced = !this.magic;
  }

  /** Adds bytes and returns the frames now complete. */
  push(data: Buffer): AgentFrame[] {
    this.chunks.push(data);
    this.size += data.length;
    const out: AgentFrame[] = [];
    for (;;) {
      if (!this.synced) {
        const all = this.take(this.size);
        const at = all.indexOf(AGENT_MAGIC);
        // Keep a tail that may be the start of a magic split across chunks.
        const rest = at >= 0 ? all.subarray(at + AGENT_MAGIC.length) : all.subarray(Math.max(0, all.length - AGENT_MAGIC.length + 1));
        this.chunks = rest.length ? [rest] : [];
        this.size = rest.length;
        if (at < 0) break;
        this.synced = true;
      }
      if (this.size < 8) break;
      const head = this.peek(8);
      if (this.magic && head.equals(AGENT_MAGIC)) {
        this.take(8);
        continue;
      }
      const channel = head.readUInt32BE(0);
      const length = head.readUInt32BE(4);
      if (length > MAX_FRAME) throw new RangeError(`Agent sent a frame of ${length} bytes (limit ${MAX_FRAME})`);
      if (this.size < 8 + length) break;
      const whole = this.take(8 + length);
      out.push({ channel, payload: whole.subarray(8) });
    }
    return out;
  }

  /** Bytes held that do not yet make a whole frame. */
  get pending(): number {
    return this.size;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    return all.subarray(0, n);
  }
}
