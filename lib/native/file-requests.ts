/**
 * The file requests of the forkfile protocol (forkfile-wire.ts) as methods,
 * whatever carries them: FileSession speaks them to an `incusd-helper
 * forkfile` over a seqpacket socket (containers), AgentFileSession over the
 * guest agent's channels (VMs). Subclasses supply the transport (`call`),
 * opening files, and the fd-based calls.
 */
import { closeSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import { NativeError } from './errors';
import {
  decodeDirEntries,
  decodeStatvfs,
  type DirEntry,
  FfFlag,
  FfOp,
  type FfReply,
  type FfRequest,
  type FileStat,
  type FsStats,
} from './forkfile-wire';

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
  /** Guest agent only: keep the file open as a handle for positional reads and writes (SFTP). */
  random?: boolean;
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
export function errnoInfo(err: number): [string, string] {
  errnoTable ??= getSystemErrorMap();
  return errnoTable.get(-err) ?? [`E${err}`, `error ${err}`];
}

/** A file request's failure: code is the errno name, path the container path. */
export function requestError(err: number, req: FfRequest, instance: string | undefined): NativeError {
  const [code, desc] = errnoInfo(err);
  const sys = OP_NAMES[req.op] ?? `op ${req.op}`;
  return new NativeError(`${sys} ${req.path}: ${desc}`, { code, errno: -err, syscall: sys, op: 'file', instance, path: req.path });
}

export function closeAll(fds: number[]): void {
  for (const fd of fds) closeSync(fd);
}

export function setAttrsFlags(a: SetAttrs): number {
  let f = 0;
  if ((a.uid ?? -1) >= 0 || (a.gid ?? -1) >= 0) f |= FfFlag.SET_OWNER;
  if (a.mode !== undefined) f |= FfFlag.SET_MODE;
  if (a.atime !== undefined && a.mtime !== undefined) f |= FfFlag.SET_TIMES;
  if (a.size !== undefined) f |= FfFlag.SET_SIZE;
  return f;
}

export function setAttrsFields(a: SetAttrs): Partial<FfRequest> {
  return { uid: a.uid, gid: a.gid, mode: a.mode, a: a.size !== undefined ? a.size : a.atime, b: a.mtime };
}

/** The wire has one slot for size and atime: a change of both goes as two requests. */
export function splitAttrs(a: SetAttrs): SetAttrs[] {
  if (a.size === undefined || a.atime === undefined || a.mtime === undefined) return [a];
  return [{ size: a.size }, { ...a, size: undefined }];
}


/** A request's replies (all parts of a listing) and the fds they carried. */
export interface CallResult {
  replies: FfReply[];
  fds: number[];
}

/** The path requests, over a transport a subclass provides. */
export abstract class FileRequests {
  /** Instance name for error messages. */
  abstract readonly instance: string | undefined;

  /** Sends one request and collects its reply, in turn with others; a failed request rejects with requestError(). */
  protected abstract call(req: FfRequest, fds?: number[]): Promise<CallResult>;

  /** Ends the transport once pending requests are done. */
  protected abstract shut(): void | Promise<void>;

  private queue: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every request queued before it (one request at a time). */
  protected serial<T>(work: () => Promise<T>): Promise<T> {
    const p = this.queue.then(work, work);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Ends the session once pending requests are done. */
  close(): Promise<void> {
    return this.serial(async () => this.shut());
  }

  /** A call whose reply carries no fd. */
  protected async simple(req: FfRequest): Promise<FfReply> {
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

  async statvfs(path: string): Promise<FsStats> {
    return decodeStatvfs((await this.simple({ op: FfOp.STATVFS, path })).payload);
  }
}

/** The OPEN request for `path` with `opts`. */
export function openRequest(path: string, opts: OpenOptions): FfRequest {
  let flags = 0;
  if (opts.read || !opts.write) flags |= FfFlag.O_READ;
  if (opts.write) flags |= FfFlag.O_WRITE;
  if (opts.append) flags |= FfFlag.O_APPEND;
  if (opts.create) flags |= FfFlag.O_CREAT;
  if (opts.truncate) flags |= FfFlag.O_TRUNC;
  if (opts.exclusive) flags |= FfFlag.O_EXCL;
  if (opts.mode !== undefined) flags |= FfFlag.MODE_SET;
  if (opts.random) flags |= FfFlag.O_RANDOM;
  return { op: FfOp.OPEN, path, flags, mode: opts.mode, uid: opts.uid, gid: opts.gid };
}
