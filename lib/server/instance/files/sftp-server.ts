/**
 * An SFTP server (protocol version 3, ssh2's implementation) whose requests
 * are served by a forkfile session: path operations go to the helper inside
 * the container, READ and WRITE go straight to the fds it opened. The
 * OpenSSH extensions that Incus's own server offers are answered too
 * (posix-rename, statvfs, fstatvfs, hardlink, fsync, lsetstat, limits).
 */
import { close, fsync, read, write } from 'node:fs';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import type { FileStat, SetAttrs } from '../../../native/forkfile';
import { discardOpened, type InstanceFiles } from './instance-files';
import { attachSftpServer, type SftpAttrs, type SftpName, SftpOpenFlag, SftpStatus } from '../../../sftp/channel';
import { errnoCode } from './errors';
import { longname } from './sftp-longname';
import { commitStaged, openStaged, type StagedFile } from './push';

/** Largest READ we answer and WRITE we accept (OpenSSH's packet size less headers). */
const MAX_IO = 255 * 1024;
/** Entries per READDIR reply. */
const DIR_BATCH = 128;
/** SSH_FXP_EXTENDED_REPLY. */
const EXTENDED_REPLY = 201;

const EXTENSIONS: Record<string, string> = {
  'posix-rename@openssh.com': '1',
  'statvfs@openssh.com': '2',
  'fstatvfs@openssh.com': '2',
  'hardlink@openssh.com': '1',
  'fsync@openssh.com': '1',
  'lsetstat@openssh.com': '1',
  'limits@openssh.com': '1',
};

interface FileHandle {
  kind: 'file';
  fd: number;
  path: string;
  /** Reads and writes in flight: the fd is closed only once they are done. */
  busy: number;
  closing: boolean;
  /** A truncating open written to a temporary file, renamed over its target on CLOSE. */
  staged?: StagedFile;
  /** Called once the fd is closed. */
  released?: () => void;
}

interface DirHandle {
  kind: 'dir';
  path: string;
  names: SftpName[];
  pos: number;
}

type Handle = FileHandle | DirHandle;

function toAttrs(st: FileStat): SftpAttrs {
  return { mode: st.mode, uid: st.uid, gid: st.gid, size: st.size, atime: st.atime, mtime: st.mtime };
}

function toSetAttrs(a: SftpAttrs): SetAttrs {
  const out: SetAttrs = {};
  if (a.uid !== undefined && a.gid !== undefined) {
    out.uid = a.uid;
    out.gid = a.gid;
  }
  if (a.mode !== undefined) out.mode = a.mode & 0o7777;
  if (a.atime !== undefined && a.mtime !== undefined) {
    out.atime = a.atime;
    out.mtime = a.mtime;
  }
  if (a.size !== undefined) out.size = a.size;
  return out;
}

/** SSH_FX_* for a failure, as OpenSSH's server picks them. */
function statusOf(err: unknown): number {
  switch (errnoCode(err)) {
    case 'ENOENT':
    case 'ENOTDIR':
      return SftpStatus.NO_SUCH_FILE;
    case 'EACCES':
    case 'EPERM':
      return SftpStatus.PERMISSION_DENIED;
    case 'ENOSYS':
    case 'EOPNOTSUPP':
      return SftpStatus.OP_UNSUPPORTED;
    default:
      return SftpStatus.FAILURE;
  }
}

/** A client path as the helper resolves it (relative to "/", the session's cwd). */
function clientPath(p: string): string {
  return p === '' ? '.' : p;
}

/** Reads SFTP ATTRS from buf at off (for lsetstat@openssh.com). */
function parseAttrs(buf: Buffer, off: number): SftpAttrs | null {
  if (off + 4 > buf.length) return null;
  const flags = buf.readUInt32BE(off);
  let p = off + 4;
  const a: SftpAttrs = {};
  const need = (n: number): boolean => p + n <= buf.length;
  if (flags & 0x1) {
    if (!need(8)) return null;
    a.size = Number(buf.readBigUInt64BE(p));
    p += 8;
  }
  if (flags & 0x2) {
    if (!need(8)) return null;
    a.uid = buf.readUInt32BE(p);
    a.gid = buf.readUInt32BE(p + 4);
    p += 8;
  }
  if (flags & 0x4) {
    if (!need(4)) return null;
    a.mode = buf.readUInt32BE(p);
    p += 4;
  }
  if (flags & 0x8) {
    if (!need(8)) return null;
    a.atime = buf.readUInt32BE(p);
    a.mtime = buf.readUInt32BE(p + 4);
  }
  return a;
}

/** SSH strings from the start of an EXTENDED request's data. */
function readStrings(buf: Buffer | undefined, n: number): { strings: Buffer[]; end: number } | null {
  if (!buf) return null;
  const strings: Buffer[] = [];
  let p = 0;
  for (let i = 0; i < n; i++) {
    if (p + 4 > buf.length) return null;
    const len = buf.readUInt32BE(p);
    if (p + 4 + len > buf.length) return null;
    strings.push(buf.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return { strings, end: p };
}

/**
 * Serves SFTP on an upgraded connection until it closes; then every open
 * fd and the session are closed. `head` holds bytes that came with the
 * upgrade request.
 */
export function serveSftp(socket: Duplex, head: Buffer, session: InstanceFiles): Promise<void> {
  const { sftp, writePacket } = attachSftpServer(socket, { extensions: EXTENSIONS }, head);
  const handles = new Map<number, Handle>();
  let nextHandle = 1;
  let done = false;

  const newHandle = (h: Handle): Buffer => {
    const id = nextHandle++;
    handles.set(id, h);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id);
    return b;
  };
  const lookup = (b: Buffer): Handle | undefined => (b.length === 4 ? handles.get(b.readUInt32BE(0)) : undefined);
  const fail = (reqid: number, err: unknown): void => {
    if (!done) sftp.status(reqid, statusOf(err), err instanceof Error ? err.message : String(err));
  };
  const ok = (reqid: number): void => {
    if (!done) sftp.status(reqid, SftpStatus.OK);
  };
  /** Runs a request; its failure becomes a STATUS reply. */
  const serve = (reqid: number, fn: () => Promise<void>): void => {
    fn().catch((err: unknown) => fail(reqid, err));
  };
  const remote = session.remoteIo;
  const releaseFile = (h: FileHandle): void => {
    if (h.closing && h.busy === 0 && h.fd >= 0) {
      const fd = h.fd;
      h.fd = -1;
      if (remote) void remote.closeHandle(fd).catch(() => undefined).then(() => h.released?.());
      else close(fd, () => h.released?.());
    }
  };
  /** Renames and removals of staged files still under way: the session stays open for them. */
  const pendingCommits = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    pendingCommits.add(p);
    void p.finally(() => pendingCommits.delete(p));
  };
  /** A staged file whose client went away without CLOSE: its temporary file goes. */
  const dropStaged = (h: FileHandle): void => {
    const staged = h.staged;
    if (!staged) return;
    track(
      new Promise<void>((resolve) => {
        h.released = () => {
          void session.remove(staged.temp).catch(() => undefined).finally(resolve);
        };
      }),
    );
    releaseFile(h);
  };
  const extendedReply = (reqid: number, payload: Buffer): void => {
    if (done) return;
    const head5 = Buffer.alloc(9);
    head5.writeUInt32BE(payload.length + 5, 0);
    head5[4] = EXTENDED_REPLY;
    head5.writeUInt32BE(reqid, 5);
    writePacket(Buffer.concat([head5, payload]));
  };
  const statvfsReply = async (reqid: number, path: string): Promise<void> => {
    const v = await session.statvfs(path);
    const out = Buffer.alloc(88);
    [v.bsize, v.frsize, v.blocks, v.bfree, v.bavail, v.files, v.ffree, v.favail, v.fsid, v.flag, v.namemax].forEach((n, i) =>
      out.writeBigUInt64BE(BigInt.asUintN(64, BigInt(Math.trunc(n))), i * 8),
    );
    extendedReply(reqid, out);
  };

  sftp.on('OPEN', (reqid: number, filename: string, pflags: number, attrs: SftpAttrs) =>
    serve(reqid, async () => {
      const write = (pflags & SftpOpenFlag.WRITE) !== 0;
      const read = (pflags & SftpOpenFlag.READ) !== 0;
      const mode = attrs.mode !== undefined ? attrs.mode & 0o7777 : undefined;
      // A truncating open must not destroy the old content before the new one is complete:
      // it writes a temporary file that CLOSE renames over the target (EXCL opens are new files anyway).
      if (write && pflags & SftpOpenFlag.TRUNC && !(pflags & SftpOpenFlag.EXCL)) {
        const staged = await openStaged(session, clientPath(filename), { create: (pflags & SftpOpenFlag.CREAT) !== 0, read, mode });
        if (staged) {
          const h: FileHandle = { kind: 'file', fd: staged.fd, path: clientPath(filename), busy: 0, closing: false, staged };
          if (done) {
            h.closing = true;
            dropStaged(h);
            return;
          }
          sftp.handle(reqid, newHandle(h));
          return;
        }
      }
      const f = await session.open(clientPath(filename), {
        read: (pflags & SftpOpenFlag.READ) !== 0,
        write: (pflags & SftpOpenFlag.WRITE) !== 0,
        append: (pflags & SftpOpenFlag.APPEND) !== 0,
        create: (pflags & SftpOpenFlag.CREAT) !== 0,
        truncate: (pflags & SftpOpenFlag.TRUNC) !== 0,
        exclusive: (pflags & SftpOpenFlag.EXCL) !== 0,
        mode: attrs.mode !== undefined ? attrs.mode & 0o7777 : undefined,
        random: remote !== undefined,
      });
      if (f.fd === undefined) {
        discardOpened(f, (fd) => close(fd, () => undefined));
        throw Object.assign(new Error('This instance serves files only as streams'), { code: 'ENOTSUP' });
      }
      if (done) {
        if (remote) void remote.closeHandle(f.fd).catch(() => undefined);
        else close(f.fd, () => undefined);
        return;
      }
      sftp.handle(reqid, newHandle({ kind: 'file', fd: f.fd, path: clientPath(filename), busy: 0, closing: false }));
    }),
  );

  sftp.on('READ', (reqid: number, hb: Buffer, offset: number, length: number) => {
    const h = lookup(hb);
    if (!h || h.kind !== 'file' || h.closing) return fail(reqid, Object.assign(new Error('Invalid handle'), { code: 'EBADF' }));
    const buf = Buffer.allocUnsafe(Math.min(length, MAX_IO));
    h.busy++;
    const answer = (err: Error | null, data: Buffer): void => {
      h.busy--;
      releaseFile(h);
      if (done) return;
      if (err) return fail(reqid, err);
      if (data.length === 0) return sftp.status(reqid, SftpStatus.EOF);
      sftp.data(reqid, data);
    };
    if (remote) remote.pread(h.fd, buf.length, offset).then((d) => answer(null, d), (e: Error) => answer(e, buf));
    else read(h.fd, buf, 0, buf.length, offset, (err, n) => answer(err, buf.subarray(0, n)));
  });

  sftp.on('WRITE', (reqid: number, hb: Buffer, offset: number, data: Buffer) => {
    const h = lookup(hb);
    if (!h || h.kind !== 'file' || h.closing) return fail(reqid, Object.assign(new Error('Invalid handle'), { code: 'EBADF' }));
    h.busy++;
    if (remote) {
      remote.pwrite(h.fd, data, offset).then(
        () => {
          h.busy--;
          releaseFile(h);
          ok(reqid);
        },
        (err: unknown) => {
          h.busy--;
          releaseFile(h);
          fail(reqid, err);
        },
      );
      return;
    }
    const step = (off: number): void => {
      write(h.fd, data, off, data.length - off, offset + off, (err, n) => {
        if (!err && off + n < data.length) return step(off + n);
        h.busy--;
        releaseFile(h);
        if (err) return fail(reqid, err);
        ok(reqid);
      });
    };
    step(0);
  });

  sftp.on('CLOSE', (reqid: number, hb: Buffer) => {
    const h = lookup(hb);
    if (!h) return fail(reqid, Object.assign(new Error('Invalid handle'), { code: 'EBADF' }));
    handles.delete(hb.readUInt32BE(0));
    if (h.kind === 'file' && h.staged) {
      const staged = h.staged;
      const commit = new Promise<void>((resolve) => {
        h.released = () => {
          commitStaged(session, staged).then(
            () => ok(reqid),
            (err: unknown) => fail(reqid, err),
          ).finally(resolve);
        };
      });
      track(commit);
      h.closing = true;
      releaseFile(h);
      return;
    }
    if (h.kind === 'file') {
      h.closing = true;
      releaseFile(h);
    }
    ok(reqid);
  });

  sftp.on('FSTAT', (reqid: number, hb: Buffer) =>
    serve(reqid, async () => {
      const h = lookup(hb);
      if (!h) throw Object.assign(new Error('Invalid handle'), { code: 'EBADF' });
      const st = h.kind === 'file' ? await session.fstat(h.fd) : await session.lstat(h.path);
      if (!done) sftp.attrs(reqid, toAttrs(st));
    }),
  );

  sftp.on('FSETSTAT', (reqid: number, hb: Buffer, attrs: SftpAttrs) =>
    serve(reqid, async () => {
      const h = lookup(hb);
      if (!h) throw Object.assign(new Error('Invalid handle'), { code: 'EBADF' });
      if (h.kind === 'file') await session.fsetstat(h.fd, toSetAttrs(attrs));
      else await session.setstat(h.path, toSetAttrs(attrs));
      ok(reqid);
    }),
  );

  sftp.on('SETSTAT', (reqid: number, path: string, attrs: SftpAttrs) =>
    serve(reqid, async () => {
      await session.setstat(clientPath(path), toSetAttrs(attrs));
      ok(reqid);
    }),
  );

  sftp.on('OPENDIR', (reqid: number, path: string) =>
    serve(reqid, async () => {
      const entries = await session.readdir(clientPath(path));
      const names = entries.map((e) => ({ filename: e.name, longname: longname(e.name, e.stat), attrs: toAttrs(e.stat) }));
      if (!done) sftp.handle(reqid, newHandle({ kind: 'dir', path: clientPath(path), names, pos: 0 }));
    }),
  );

  sftp.on('READDIR', (reqid: number, hb: Buffer) => {
    const h = lookup(hb);
    if (!h || h.kind !== 'dir') return fail(reqid, Object.assign(new Error('Invalid handle'), { code: 'EBADF' }));
    if (h.pos >= h.names.length) return sftp.status(reqid, SftpStatus.EOF);
    const batch = h.names.slice(h.pos, h.pos + DIR_BATCH);
    h.pos += batch.length;
    sftp.name(reqid, batch);
  });

  const statLike = (follow: boolean) => (reqid: number, path: string) =>
    serve(reqid, async () => {
      const st = follow ? await session.stat(clientPath(path)) : await session.lstat(clientPath(path));
      if (!done) sftp.attrs(reqid, toAttrs(st));
    });
  sftp.on('STAT', statLike(true));
  sftp.on('LSTAT', statLike(false));

  sftp.on('REMOVE', (reqid: number, path: string) =>
    serve(reqid, async () => {
      // As Go's os.Remove in Incus's server: an empty directory goes too.
      await session.remove(clientPath(path), { dirs: true });
      ok(reqid);
    }),
  );

  sftp.on('RMDIR', (reqid: number, path: string) =>
    serve(reqid, async () => {
      await session.rmdir(clientPath(path));
      ok(reqid);
    }),
  );

  sftp.on('MKDIR', (reqid: number, path: string, attrs: SftpAttrs) =>
    serve(reqid, async () => {
      await session.mkdir(clientPath(path), { mode: attrs.mode !== undefined ? attrs.mode & 0o7777 : undefined });
      ok(reqid);
    }),
  );

  sftp.on('REALPATH', (reqid: number, path: string) => {
    // Lexical, like Incus's server (pkg/sftp): relative to "/", cleaned.
    const p = posix.resolve('/', path);
    sftp.name(reqid, [{ filename: p, longname: p, attrs: {} }]);
  });

  sftp.on('RENAME', (reqid: number, from: string, to: string) =>
    serve(reqid, async () => {
      await session.rename(clientPath(from), clientPath(to));
      ok(reqid);
    }),
  );

  sftp.on('READLINK', (reqid: number, path: string) =>
    serve(reqid, async () => {
      const target = await session.readlink(clientPath(path));
      if (!done) sftp.name(reqid, [{ filename: target, longname: target, attrs: {} }]);
    }),
  );

  sftp.on('SYMLINK', (reqid: number, linkPath: string, targetPath: string) =>
    serve(reqid, async () => {
      await session.symlink(targetPath, clientPath(linkPath));
      ok(reqid);
    }),
  );

  sftp.on('EXTENDED', (reqid: number, name: string, data: Buffer | undefined) =>
    serve(reqid, async () => {
      const bad = (): never => {
        throw Object.assign(new Error(`Malformed ${name} request`), { code: 'EINVAL' });
      };
      switch (name) {
        case 'posix-rename@openssh.com':
        case 'hardlink@openssh.com': {
          const s = readStrings(data, 2) ?? bad();
          const [from, to] = s.strings.map((b) => clientPath(b.toString('utf8')));
          if (name === 'hardlink@openssh.com') await session.link(from!, to!);
          else await session.rename(from!, to!);
          return ok(reqid);
        }
        case 'statvfs@openssh.com': {
          const s = readStrings(data, 1) ?? bad();
          return statvfsReply(reqid, clientPath(s.strings[0]!.toString('utf8')));
        }
        case 'fstatvfs@openssh.com':
        case 'fsync@openssh.com': {
          const s = readStrings(data, 1) ?? bad();
          const h = lookup(s.strings[0]!);
          if (!h) throw Object.assign(new Error('Invalid handle'), { code: 'EBADF' });
          if (name === 'fstatvfs@openssh.com') return statvfsReply(reqid, h.path);
          if (h.kind !== 'file') throw Object.assign(new Error('Not a file handle'), { code: 'EINVAL' });
          if (remote) await remote.fsync(h.fd);
          else await new Promise<void>((resolve, reject) => fsync(h.fd, (e) => (e ? reject(e) : resolve())));
          return ok(reqid);
        }
        case 'lsetstat@openssh.com': {
          const s = readStrings(data, 1) ?? bad();
          const attrs = parseAttrs(data!, s.end) ?? bad();
          await session.setstat(clientPath(s.strings[0]!.toString('utf8')), toSetAttrs(attrs), { noFollow: true });
          return ok(reqid);
        }
        case 'limits@openssh.com': {
          const out = Buffer.alloc(32);
          out.writeBigUInt64BE(256n * 1024n, 0);
          out.writeBigUInt64BE(BigInt(MAX_IO), 8);
          out.writeBigUInt64BE(BigInt(MAX_IO), 16);
          out.writeBigUInt64BE(0n, 24);
          return extendedReply(reqid, out);
        }
        default:
          throw Object.assign(new Error(`Unsupported extension ${name}`), { code: 'ENOSYS' });
      }
    }),
  );

  return new Promise<void>((resolve) => {
    sftp.once('close', () => {
      done = true;
      for (const h of handles.values()) {
        if (h.kind !== 'file') continue;
        h.closing = true;
        if (h.staged) dropStaged(h);
        else releaseFile(h);
      }
      handles.clear();
      void Promise.all([...pendingCommits]).then(() => session.close()).then(resolve);
    });
  });
}

