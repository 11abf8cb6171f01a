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
import { getSystemErrorMap } from 'node:util';
import { helperPath } from './addon';
import { NativeError } from './errors';
import { receiveMessage, sendMessage, seqpacketPair } from './fdpass';
import {
  decodeDirEntries,
  decodeReply,
  decodeStatvfs,
  type DirEntry,
  encodeRequest,
  FF_MAX_RESP,
  FfFlag,
  FfOp,
  type FfReply,
  FfReplyFlag,
  type FfRequest,
  type FileStat,
  type FsStats,
} from './forkfile-wire';
import { checkPath, checkPid } from './validate';

export type { DirEntry, FileStat, FsStats } from './forkfile-wire';
export { fileType } from './forkfile-wire';

/**
 * Where the helper goes: a running container's init, or a stopped
 * container's rootfs. `uidmap`/`gidmap` (uid_map lines, e.g. "0 1000000
 * 65536") put it in a user namespace with that map first, for a rootfs
 * shifted on disk.
 */
export type ForkfileTarget = { pid: number } | { rootfs: string; uidmap?: string; gidmap?: string };

/** Attributes to set; absent fields are left alone (uid/gid -1 too). */
export interface SetAttrs {
  uid?: number;
  gid?: number;
  mode?: number;
  /** Seconds; both or neither. */
  atime?: number;
  mtime?: number;
  size?: number;
}

/** How to open a file. Mode/uid/gid apply only when this call creates it. */
export interface OpenOptions {
  read?: boolean;
  write?: boolean;
  append?: boolean;
  create?: boolean;
  truncate?: boolean;
  exclusive?: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
}

/** An opened regular file: the fd is the caller's to read, write and close. */
export interface OpenedFile {
  fd: number;
  created: boolean;
  stat: FileStat;
}

/** Ownership and mode for new directories and symlinks. */
export interface CreateOptions {
  mode?: number;
  uid?: number;
  gid?: number;
}

const OP_NAMES: Record<number, string> = {
  [FfOp.LSTAT]: 'lstat',
  [FfOp.STAT]: 'stat',
  [FfOp.READDIR]: 'readdir',
  [FfOp.MKDIR]: 'mkdir',
  [FfOp.SYMLINK]: 'symlink',
  [FfOp.READLINK]: 'readlink',
  [FfOp.REMOVE]: 'remove',
  [FfOp.RMDIR]: 'rmdir',
  [FfOp.REMOVE_ALL]: 'remove',
  [FfOp.RENAME]: 'rename',
  [FfOp.SETSTAT]: 'setstat',
  [FfOp.OPEN]: 'open',
  [FfOp.FSTAT]: 'fstat',
  [FfOp.FSETSTAT]: 'fsetstat',
  [FfOp.STATVFS]: 'statvfs',
  [FfOp.LINK]: 'link',
};

let errnoTable: Map<number, [string, string]> | undefined;

/** ['ENOENT', 'no such file or directory'] for 2. */
function errnoInfo(err: number): [string, string] {
  errnoTable ??= getSystemErrorMap();
  return errnoTable.get(-err) ?? [`E${err}`, `error ${err}`];
}

/** A file request's failure: code is the errno name, path the container path. */
function requestError(err: number, req: FfRequest, instance: string | undefined): NativeError {
  const [code, desc] = errnoInfo(err);
  const sys = OP_NAMES[req.op] ?? `op ${req.op}`;
  return new NativeError(`${sys} ${req.path}: ${desc}`, { code, errno: -err, syscall: sys, op: 'file', instance, path: req.path });
}

function closeAll(fds: number[]): void {
  for (const fd of fds) closeSync(fd);
}

function setAttrsFlags(a: SetAttrs): number {
  let f = 0;
  if ((a.uid ?? -1) >= 0 || (a.gid ?? -1) >= 0) f |= FfFlag.SET_OWNER;
  if (a.mode !== undefined) f |= FfFlag.SET_MODE;
  if (a.atime !== undefined && a.mtime !== undefined) f |= FfFlag.SET_TIMES;
  if (a.size !== undefined) f |= FfFlag.SET_SIZE;
  return f;
}

function setAttrsFields(a: SetAttrs): Partial<FfRequest> {
  return { uid: a.uid, gid: a.gid, mode: a.mode, a: a.size !== undefined ? a.size : a.atime, b: a.mtime };
}

/** The wire has one slot for size and atime: a change of both goes as two requests. */
function splitAttrs(a: SetAttrs): SetAttrs[] {
  if (a.size === undefined || a.atime === undefined || a.mtime === undefined) return [a];
  return [{ size: a.size }, { ...a, size: undefined }];
}

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
export class FileSession {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private stderr = '';

  /** The helper's PID (it exits once the session is closed). */
  readonly helperPid: number;

  private constructor(
    private readonly fd: number,
    child: ChildProcess,
    readonly instance: string | undefined,
  ) {
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

  /** Ends the session once pending requests are done; the helper then exits. */
  close(): Promise<void> {
    const done = this.queue.then(
      () => this.shut(),
      () => this.shut(),
    );
    this.queue = done;
    return done;
  }

  private shut(): void {
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
  private call(req: FfRequest, fds?: number[]): Promise<{ replies: FfReply[]; fds: number[] }> {
    const run = async (): Promise<{ replies: FfReply[]; fds: number[] }> => {
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
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** A call whose reply carries no fd. */
  private async simple(req: FfRequest): Promise<FfReply> {
    const { replies, fds } = await this.call(req);
    closeAll(fds);
    return replies[replies.length - 1]!;
  }

  /** lstat(2): a symlink itself. */
  async lstat(path: string): Promise<FileStat> {
    return (await this.simple({ op: FfOp.LSTAT, path })).stat;
  }

  /** stat(2): follows symlinks (inside the container). */
  async stat(path: string): Promise<FileStat> {
    return (await this.simple({ op: FfOp.STAT, path })).stat;
  }

  /** Entries of a directory with their lstat, without "." and "..". */
  async readdir(path: string): Promise<DirEntry[]> {
    const { replies, fds } = await this.call({ op: FfOp.READDIR, path });
    closeAll(fds);
    return replies.flatMap((r) => decodeDirEntries(r.payload, r.count));
  }

  /** mkdir(2), 0755 unless `mode`; then owner and exact mode. */
  async mkdir(path: string, opts: CreateOptions = {}): Promise<void> {
    await this.simple({
      op: FfOp.MKDIR,
      path,
      flags: opts.mode !== undefined ? FfFlag.MODE_SET : 0,
      mode: opts.mode,
      uid: opts.uid,
      gid: opts.gid,
    });
  }

  /** symlink(2): `path` pointing at `target`, optionally owned by uid/gid. */
  async symlink(target: string, path: string, opts: CreateOptions = {}): Promise<void> {
    await this.simple({ op: FfOp.SYMLINK, path, path2: target, uid: opts.uid, gid: opts.gid });
  }

  async readlink(path: string): Promise<string> {
    return (await this.simple({ op: FfOp.READLINK, path })).payload.toString('utf8');
  }

  /** unlink(2); with `dirs`, an empty directory is removed too (rmdir). */
  async remove(path: string, opts: { dirs?: boolean } = {}): Promise<void> {
    await this.simple({ op: FfOp.REMOVE, path, flags: opts.dirs ? FfFlag.DIR_OK : 0 });
  }

  async rmdir(path: string): Promise<void> {
    await this.simple({ op: FfOp.RMDIR, path });
  }

  /** rm -r: never follows symlinks; fails with ENOENT when path does not exist. */
  async removeAll(path: string): Promise<void> {
    await this.simple({ op: FfOp.REMOVE_ALL, path });
  }

  /** rename(2); `noReplace` fails with EEXIST instead of replacing. */
  async rename(from: string, to: string, opts: { noReplace?: boolean } = {}): Promise<void> {
    await this.simple({ op: FfOp.RENAME, path: from, path2: to, flags: opts.noReplace ? FfFlag.NOREPLACE : 0 });
  }

  /** link(2). */
  async link(existing: string, newPath: string): Promise<void> {
    await this.simple({ op: FfOp.LINK, path: existing, path2: newPath });
  }

  /** Sets size, owner, mode, then times; `noFollow` acts on a symlink itself. */
  async setstat(path: string, attrs: SetAttrs, opts: { noFollow?: boolean } = {}): Promise<void> {
    for (const part of splitAttrs(attrs)) {
      const flags = setAttrsFlags(part) | (opts.noFollow ? FfFlag.NOFOLLOW : 0);
      await this.simple({ op: FfOp.SETSTAT, path, flags, ...setAttrsFields(part) });
    }
  }

  /**
   * Opens a regular file (directories: EISDIR, other types: EINVAL). The
   * returned fd is CLOEXEC, blocking, and the caller's to close.
   */
  async open(path: string, opts: OpenOptions): Promise<OpenedFile> {
    let flags = 0;
    if (opts.read || !opts.write) flags |= FfFlag.O_READ;
    if (opts.write) flags |= FfFlag.O_WRITE;
    if (opts.append) flags |= FfFlag.O_APPEND;
    if (opts.create) flags |= FfFlag.O_CREAT;
    if (opts.truncate) flags |= FfFlag.O_TRUNC;
    if (opts.exclusive) flags |= FfFlag.O_EXCL;
    if (opts.mode !== undefined) flags |= FfFlag.MODE_SET;
    const { replies, fds } = await this.call({ op: FfOp.OPEN, path, flags, mode: opts.mode, uid: opts.uid, gid: opts.gid });
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

  async statvfs(path: string): Promise<FsStats> {
    return decodeStatvfs((await this.simple({ op: FfOp.STATVFS, path })).payload);
  }
}
