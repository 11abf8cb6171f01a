/**
 * File access inside a container through an `incusd-helper forkfile`
 * process: the helper joins the container (namespaces of a running one, a
 * chroot into the rootfs of a stopped one) and answers path requests over a
 * seqpacket socketpair. OPEN hands the opened fd back, so file contents move
 * between the daemon and the fd directly and never cross the RPC.
 * One session is one helper; requests are served one at a time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { helperPath } from './addon';
import { NativeError } from './errors';
import { receiveMessage, sendMessage, seqpacketPair } from './fdpass';
import {
  type CallResult,
  closeAll,
  errnoInfo,
  FileRequests,
  type OpenedFile,
  type OpenOptions,
  openRequest,
  requestError,
  type SetAttrs,
  setAttrsFields,
  setAttrsFlags,
  splitAttrs,
} from './file-requests';
import { decodeReply, encodeRequest, FF_MAX_RESP, FfOp, type FfReply, FfReplyFlag, type FfRequest, type FileStat } from './forkfile-wire';
import { checkPath, checkPid } from './validate';

export type { DirEntry, FileStat, FsStats } from './forkfile-wire';
export { fileType } from './forkfile-wire';
export type { CreateOptions, OpenedFile, OpenOptions, SetAttrs } from './file-requests';

/**
 * Where the helper goes: a running container's init, or a stopped
 * container's rootfs. `uidmap`/`gidmap` (uid_map lines, e.g. "0 1000000
 * 65536") put it in a user namespace with that map first, for a rootfs
 * shifted on disk.
 */
export type ForkfileTarget = { pid: number } | { rootfs: string; uidmap?: string; gidmap?: string };

function checkTarget(t: ForkfileTarget): void {
  if ('pid' in t) {
    checkPid('forkfile', t.pid);
    return;
  }
  checkPath('forkfile', 'rootfs', t.rootfs);
  const mapLine = /^(\d+ \d+ \d+)(\n\d+ \d+ \d+)*\n?$/;
  if ((t.uidmap === undefined) !== (t.gidmap === undefined)) throw new TypeError('forkfile: uidmap and gidmap go together');
  if (t.uidmap !== undefined && (!mapLine.test(t.uidmap) || !mapLine.test(t.gidmap ?? ''))) {
    throw new TypeError('forkfile: maps must be uid_map lines ("inside outside count")');
  }
}

/** A live helper inside one container. Close it when done (the helper then exits). */
export class FileSession extends FileRequests {
  private closed = false;
  private stderr = '';

  /** The helper's PID (it exits once the session is closed). */
  readonly helperPid: number;

  private constructor(
    private readonly fd: number,
    child: ChildProcess,
    readonly instance: string | undefined,
  ) {
    super();
    this.helperPid = child.pid ?? -1;
    child.stderr?.on('data', (b: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += b.toString('utf8');
    });
  }

  /**
   * Spawns the helper for `target` and waits until it is inside (or says
   * why it could not get there: a NativeError with the errno's code).
   */
  static async open(target: ForkfileTarget, ctx: { instance?: string } = {}): Promise<FileSession> {
    checkTarget(target);
    const args =
      'pid' in target
        ? ['forkfile', 'pid', String(target.pid)]
        : ['forkfile', 'rootfs', target.rootfs, ...(target.uidmap !== undefined ? [target.uidmap, target.gidmap ?? ''] : [])];
    const [ours, theirs] = seqpacketPair();
    let child: ChildProcess;
    try {
      child = spawn(helperPath(), args, { stdio: ['ignore', 'ignore', 'pipe', theirs] });
    } catch (err) {
      closeSync(ours);
      throw NativeError.from(err, { op: 'file', instance: ctx.instance });
    } finally {
      // The child has its copy (or never will): ours would only keep the socket alive.
      closeSync(theirs);
    }
    const session = new FileSession(ours, child, ctx.instance);
    const spawnError = new Promise<never>((_, reject) => {
      child.once('error', (e) => reject(NativeError.from(e, { op: 'file', instance: ctx.instance })));
    });
    spawnError.catch(() => undefined);
    try {
      const hello = await Promise.race([session.receive(), spawnError]);
      const reply = decodeReply(hello.data);
      closeAll(hello.fds);
      if (reply.err !== 0) {
        const [code, desc] = errnoInfo(reply.err);
        const why = reply.payload.toString('utf8') || desc;
        throw new NativeError(`Failed to access the instance's files: ${why}`, {
          code,
          errno: -reply.err,
          op: 'file',
          instance: ctx.instance,
        });
      }
    } catch (err) {
      await session.close();
      throw err;
    }
    return session;
  }

  /** Closing the socket ends the helper. */
  protected shut(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  /** One message from the helper; a NativeError when it went away. */
  private async receive(): Promise<{ data: Buffer; fds: number[] }> {
    const m = await receiveMessage(this.fd, FF_MAX_RESP + 1024);
    if (m.data.length === 0) {
      // Let the helper's last words arrive before quoting them.
      await new Promise((r) => setImmediate(r));
      const why = this.stderr.trim().split('\n').pop() ?? '';
      throw new NativeError(`forkfile helper exited${why ? `: ${why}` : ''}`, { code: 'EPIPE', op: 'file', instance: this.instance });
    }
    if (m.truncated) {
      closeAll(m.fds);
      throw new NativeError('forkfile: truncated reply', { code: 'EPROTO', op: 'file', instance: this.instance });
    }
    return m;
  }

  /** Sends one request and collects its reply (all parts of a listing), in turn with others. */
  protected call(req: FfRequest, fds?: number[]): Promise<CallResult> {
    const run = async (): Promise<CallResult> => {
      if (this.closed) throw new NativeError('forkfile: session is closed', { code: 'EBADF', op: 'file', instance: this.instance });
      sendMessage(this.fd, encodeRequest(req), fds);
      const replies: FfReply[] = [];
      const got: number[] = [];
      for (;;) {
        const m = await this.receive();
        got.push(...m.fds);
        const r = decodeReply(m.data);
        replies.push(r);
        if (r.err !== 0) {
          closeAll(got);
          throw requestError(r.err, req, this.instance);
        }
        if (!(r.flags & FfReplyFlag.MORE)) return { replies, fds: got };
      }
    };
    return this.serial(run);
  }

  /**
   * Opens a regular file (directories: EISDIR, other types: EINVAL). The
   * returned fd is CLOEXEC, blocking, and the caller's to close.
   */
  async open(path: string, opts: OpenOptions): Promise<OpenedFile> {
    const { replies, fds } = await this.call(openRequest(path, opts));
    const r = replies[replies.length - 1]!;
    if (fds.length !== 1) {
      closeAll(fds);
      throw new NativeError(`open ${path}: the helper sent ${fds.length} fds`, { code: 'EPROTO', op: 'file', instance: this.instance });
    }
    return { fd: fds[0]!, created: (r.flags & FfReplyFlag.CREATED) !== 0, stat: r.stat };
  }

  /** fstat(2) of an fd this session opened, with the container's ids. */
  async fstat(fd: number): Promise<FileStat> {
    const { replies, fds } = await this.call({ op: FfOp.FSTAT, path: '' }, [fd]);
    closeAll(fds);
    return replies[0]!.stat;
  }

  /** setstat() on an fd this session opened. */
  async fsetstat(fd: number, attrs: SetAttrs): Promise<void> {
    for (const part of splitAttrs(attrs)) {
      const { fds } = await this.call({ op: FfOp.FSETSTAT, path: '', flags: setAttrsFlags(part), ...setAttrsFields(part) }, [fd]);
      closeAll(fds);
    }
  }
}
