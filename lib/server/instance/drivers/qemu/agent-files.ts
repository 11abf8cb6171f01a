/**
 * A VM's files through its guest agent (InstanceFiles for the QEMU driver):
 * the forkfile requests containers use, carried on an agent files channel
 * and served in the guest by the same C handlers. An opened file is a
 * channel, so its content comes as a stream: reads from offset 0 as the
 * agent sends them, writes in order, each ended by the agent's file-closed
 * event (0 or the errno that stopped it). SFTP opens files as handles
 * instead (`random: true`), read and written at offsets request by request.
 */
import { PassThrough, Writable } from 'node:stream';
import { NativeError } from '../../../../native/errors';
import {
  type CallResult,
  errnoInfo,
  FileRequests,
  type OpenOptions,
  openRequest,
  requestError,
  type SetAttrs,
  setAttrsFields,
  setAttrsFlags,
  splitAttrs,
} from '../../../../native/file-requests';
import { decodeReply, encodeRequest, FfFlag, FfOp, type FfReply, FfReplyFlag, type FfRequest, type FileStat } from '../../../../native/forkfile-wire';
import type { InstanceOpenedFile, RemoteFileIo, StreamedFile } from '../../files/instance-files';
import type { AgentClient } from './agent-client';
import { MAX_FRAME } from './agent-protocol';

/** Bytes per frame of a file being written. */
const WRITE_CHUNK = 256 * 1024;

interface Collector {
  req: FfRequest;
  replies: FfReply[];
  resolve: (r: CallResult) => void;
  reject: (e: Error) => void;
}

/** The errno of a failed file transfer as an Error with its code. */
function transferError(errno: number, path: string, instance: string | undefined): NativeError {
  const [code, desc] = errnoInfo(errno);
  return new NativeError(`transfer ${path}: ${desc}`, { code, errno: -errno, syscall: 'transfer', op: 'file', instance, path });
}

/** Largest PWRITE the agent is sent at once (SFTP writes up to 255 KiB). */
const PWRITE_CHUNK = 256 * 1024;

export class AgentFileSession extends FileRequests {
  /** Files opened with `random: true` stay in the agent as handles, read and written request by request (SFTP). */
  readonly remoteIo: RemoteFileIo = {
    pread: async (handle, length, position) => (await this.simple({ op: FfOp.PREAD, path: '', handle, a: position, b: length })).payload,
    pwrite: async (handle, data, position) => {
      for (let off = 0; off < data.length || off === 0; off += PWRITE_CHUNK) {
        await this.simple({ op: FfOp.PWRITE, path: '', handle, a: position + off, data: data.subarray(off, off + PWRITE_CHUNK) });
        if (data.length === 0) break;
      }
    },
    fsync: async (handle) => void (await this.simple({ op: FfOp.FSYNC, path: '', handle })),
    closeHandle: async (handle) => void (await this.simple({ op: FfOp.CLOSE, path: '', handle })),
  };
  private current: Collector | undefined;
  private closed = false;
  /** The file the last OPEN reply bound (taken by open()). */
  private lastOpened: StreamedFile | undefined;

  private constructor(
    private readonly client: AgentClient,
    private readonly channel: number,
    readonly instance: string | undefined,
  ) {
    super();
  }

  /** Opens a files channel on `client`. */
  static async open(client: AgentClient, instance?: string): Promise<AgentFileSession> {
    const channel = await client.filesChannel();
    const session = new AgentFileSession(client, channel, instance);
    client.listen(channel, {
      data: (payload) => session.onReply(payload),
      failed: (err) => session.onFailed(err),
    });
    return session;
  }

  protected shut(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.client.unlisten(this.channel);
    // The channel goes; files opened through it live on until their transfer ends.
    return this.client.send(this.channel).catch(() => undefined);
  }

  protected call(req: FfRequest): Promise<CallResult> {
    const run = (): Promise<CallResult> =>
      new Promise<CallResult>((resolve, reject) => {
        if (this.closed) {
          reject(new NativeError('agent files: session is closed', { code: 'EBADF', op: 'file', instance: this.instance }));
          return;
        }
        // A path the wire cannot carry (NUL, too long) throws here and rejects this call.
        const msg = encodeRequest(req);
        this.current = { req, replies: [], resolve, reject };
        this.client.send(this.channel, msg).catch((e: Error) => this.onFailed(e));
      });
    return this.serial(run);
  }

  async open(path: string, opts: OpenOptions): Promise<InstanceOpenedFile> {
    const req = openRequest(path, opts);
    const { replies } = await this.call(req);
    const last = replies[replies.length - 1]!;
    // A handle for remoteIo: the `fd` names it in the agent.
    if (opts.random) return { fd: last.pad, created: (last.flags & FfReplyFlag.CREATED) !== 0, stat: last.stat };
    const opened = this.lastOpened;
    this.lastOpened = undefined;
    if (!opened) throw new NativeError(`open ${path}: no channel in the agent's reply`, { code: 'EPROTO', op: 'file', instance: this.instance });
    opened.created = (last.flags & FfReplyFlag.CREATED) !== 0;
    return opened;
  }

  /** fstat(2) of a handle opened with `random: true`. */
  async fstat(handle: number): Promise<FileStat> {
    return (await this.simple({ op: FfOp.FSTAT, path: '', handle })).stat;
  }

  /** setstat() on a handle opened with `random: true`. */
  async fsetstat(handle: number, attrs: SetAttrs): Promise<void> {
    for (const part of splitAttrs(attrs)) await this.simple({ op: FfOp.FSETSTAT, path: '', handle, flags: setAttrsFlags(part), ...setAttrsFields(part) });
  }

  private onReply(payload: Buffer): void {
    const c = this.current;
    if (!c) return; // nothing asked: not ours to act on
    let r: FfReply;
    try {
      r = decodeReply(payload);
    } catch (e) {
      this.current = undefined;
      c.reject(new NativeError(`agent files: ${(e as Error).message}`, { code: 'EPROTO', op: 'file', instance: this.instance }));
      return;
    }
    c.replies.push(r);
    if (r.err !== 0) {
      this.current = undefined;
      c.reject(requestError(r.err, c.req, this.instance));
      return;
    }
    if (r.flags & FfReplyFlag.MORE) return;
    this.current = undefined;
    if (c.req.op === FfOp.OPEN) {
      if (r.pad === 0) {
        c.reject(new NativeError(`open ${c.req.path}: no channel in the agent's reply`, { code: 'EPROTO', op: 'file', instance: this.instance }));
        return;
      }
      // Bound now, not when the promise settles: the content may follow in this same chunk.
      this.lastOpened = this.bindFile(r.pad, c.req, r.stat);
    }
    c.resolve({ replies: c.replies, fds: [] });
  }

  private onFailed(err: Error): void {
    const c = this.current;
    this.current = undefined;
    c?.reject(err);
  }

  /** The stream of an opened file's channel. */
  private bindFile(channel: number, req: FfRequest, stat: FileStat): StreamedFile {
    const client = this.client;
    const path = req.path;
    const instance = this.instance;
    const writing = ((req.flags ?? 0) & FfFlag.O_WRITE) !== 0;
    if (!writing) {
      const readable = new PassThrough();
      client.listen(channel, {
        data: (payload) => {
          if (!readable.destroyed) readable.write(payload);
        },
        closed: (errno) => {
          client.unlisten(channel);
          if (errno === 0) readable.end();
          else readable.destroy(transferError(errno, path, instance));
        },
        failed: (err) => readable.destroy(err),
      });
      readable.on('close', () => {
        // Abandoned before the end: the agent stops sending and closes the file.
        if (!readable.writableFinished) void client.send(channel).catch(() => undefined);
      });
      return { created: false, stat, readable };
    }
    let closedWith: ((errno: number) => void) | undefined;
    let failure: Error | undefined;
    client.listen(channel, {
      data: () => undefined,
      closed: (errno) => {
        client.unlisten(channel);
        closedWith?.(errno);
      },
      failed: (err) => {
        failure = err;
        closedWith?.(-1);
      },
    });
    const writable = new Writable({
      highWaterMark: WRITE_CHUNK,
      write(chunk: Buffer, _enc, cb) {
        if (failure) return cb(failure);
        const sends: Promise<void>[] = [];
        for (let off = 0; off < chunk.length; off += Math.min(WRITE_CHUNK, MAX_FRAME)) {
          sends.push(client.send(channel, chunk.subarray(off, off + WRITE_CHUNK)));
        }
        Promise.all(sends).then(() => cb(), cb);
      },
      final(cb) {
        if (failure) return cb(failure);
        closedWith = (errno) => cb(errno === 0 ? null : errno < 0 ? failure : transferError(errno, path, instance));
        client.send(channel).catch(cb);
      },
      destroy(err, cb) {
        // Abandoned (or failed): the zero-length frame closes the file; the caller removes what was written.
        if (!closedWith) void client.send(channel).catch(() => undefined);
        client.unlisten(channel);
        cb(err);
      },
    });
    return { created: false, stat, writable };
  }
}
