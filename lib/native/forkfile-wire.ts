/**
 * The forkfile wire format (native/helpers/forkfile.h is the other half and
 * the reference): request and reply layouts, little-endian, one seqpacket
 * message each. Pure encoding and decoding, no I/O.
 */

/** Request ops (enum ff_op). */
export const FfOp = {
  LSTAT: 1,
  STAT: 2,
  READDIR: 3,
  MKDIR: 4,
  SYMLINK: 5,
  READLINK: 6,
  REMOVE: 7,
  RMDIR: 8,
  REMOVE_ALL: 9,
  RENAME: 10,
  SETSTAT: 11,
  OPEN: 12,
  FSTAT: 13,
  FSETSTAT: 14,
  STATVFS: 15,
  LINK: 16,
  /** The guest agent's handle ops (files opened with O_RANDOM; the handle goes in `handle`). */
  PREAD: 17,
  PWRITE: 18,
  FSYNC: 19,
  CLOSE: 20,
} as const;

/** Request flags (FF_F_*, FF_SET_*, FF_MODE_SET, FF_O_*). */
export const FfFlag = {
  NOFOLLOW: 0x0001,
  DIR_OK: 0x0002,
  NOREPLACE: 0x0004,
  SET_OWNER: 0x0100,
  SET_MODE: 0x0200,
  SET_TIMES: 0x0400,
  SET_SIZE: 0x0800,
  MODE_SET: 0x1000,
  O_READ: 0x010000,
  O_WRITE: 0x020000,
  O_APPEND: 0x040000,
  O_CREAT: 0x080000,
  O_TRUNC: 0x100000,
  O_EXCL: 0x200000,
  /** Guest agent: keep the file open as a handle for PREAD/PWRITE. */
  O_RANDOM: 0x400000,
} as const;

/** Reply flags. */
export const FfReplyFlag = { MORE: 0x1, CREATED: 0x2 } as const;

/** Longest path (in bytes) a request may carry. */
export const FF_PATH_MAX = 4096;
/** sizeof(struct ff_req). */
export const FF_REQ_SIZE = 48;
/** sizeof(struct ff_stat). */
const FF_STAT_SIZE = 56;
/** sizeof(struct ff_resp). */
export const FF_RESP_SIZE = 16 + FF_STAT_SIZE;
/** FF_MAX_RESP: the largest message the helper sends. */
export const FF_MAX_RESP = 64 * 1024;

/** One request, before encoding. */
export interface FfRequest {
  op: number;
  flags?: number;
  mode?: number;
  /** -1 (or absent): not given / keep. */
  uid?: number;
  gid?: number;
  path: string;
  path2?: string;
  /** SET_TIMES: atime; SET_SIZE: size. */
  a?: number;
  /** SET_TIMES: mtime; PREAD: length. */
  b?: number;
  /** Guest agent: the handle a PREAD/PWRITE/FSYNC/CLOSE/FSTAT/FSETSTAT acts on (the pad field). */
  handle?: number;
  /** PWRITE: the bytes to write, carried where the path goes. */
  data?: Buffer;
}

/** What stat(2) said, with ids as the container sees them. Times in seconds. */
export interface FileStat {
  /** st_mode: type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  atimeNsec: number;
  mtimeNsec: number;
}

/** A decoded reply message. */
export interface FfReply {
  /** 0 or a positive errno. */
  err: number;
  flags: number;
  count: number;
  stat: FileStat;
  /** 0 from the helper; over the guest agent, OPEN's reply carries the opened file's channel here. */
  pad: number;
  payload: Buffer;
}

/** One directory entry with its lstat. */
export interface DirEntry {
  name: string;
  stat: FileStat;
}

/** statvfs(3) fields, as statvfs@openssh.com carries them. */
export interface FsStats {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/** S_IFMT and friends. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** The file type as the files API names it ("other" for devices, fifos, sockets). */
export function fileType(mode: number): 'file' | 'directory' | 'symlink' | 'other' {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return 'file';
    case S_IFDIR:
      return 'directory';
    case S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}

function pathBytes(what: string, p: string): Buffer {
  const b = Buffer.from(p, 'utf8');
  if (b.includes(0)) throw new TypeError(`forkfile: ${what} contains a NUL byte`);
  if (b.length > FF_PATH_MAX) throw new RangeError(`forkfile: ${what} is longer than ${FF_PATH_MAX} bytes`);
  return b;
}

function int32(v: number | undefined): number {
  return v === undefined ? -1 : v;
}

/** Encodes a request as one message. */
export function encodeRequest(r: FfRequest): Buffer {
  const p1 = r.data ?? pathBytes('path', r.path);
  const p2 = pathBytes('second path', r.path2 ?? '');
  const buf = Buffer.alloc(FF_REQ_SIZE + p1.length + p2.length);
  buf.writeUInt32LE(r.op, 0);
  buf.writeUInt32LE((r.flags ?? 0) >>> 0, 4);
  buf.writeUInt32LE((r.mode ?? 0) >>> 0, 8);
  buf.writeInt32LE(int32(r.uid), 12);
  buf.writeInt32LE(int32(r.gid), 16);
  buf.writeUInt32LE(p1.length, 20);
  buf.writeUInt32LE(p2.length, 24);
  buf.writeUInt32LE((r.handle ?? 0) >>> 0, 28);
  buf.writeBigInt64LE(BigInt(Math.trunc(r.a ?? 0)), 32);
  buf.writeBigInt64LE(BigInt(Math.trunc(r.b ?? 0)), 40);
  p1.copy(buf, FF_REQ_SIZE);
  p2.copy(buf, FF_REQ_SIZE + p1.length);
  return buf;
}

function decodeStat(buf: Buffer, off: number): FileStat {
  return {
    mode: buf.readUInt32LE(off),
    uid: buf.readUInt32LE(off + 4),
    gid: buf.readUInt32LE(off + 8),
    nlink: buf.readUInt32LE(off + 12),
    size: Number(buf.readBigUInt64LE(off + 16)),
    atime: Number(buf.readBigInt64LE(off + 24)),
    mtime: Number(buf.readBigInt64LE(off + 32)),
    ctime: Number(buf.readBigInt64LE(off + 40)),
    atimeNsec: buf.readUInt32LE(off + 48),
    mtimeNsec: buf.readUInt32LE(off + 52),
  };
}

/** Decodes one reply message; throws on a message shorter than the header. */
export function decodeReply(buf: Buffer): FfReply {
  if (buf.length < FF_RESP_SIZE) throw new Error(`forkfile: short reply (${buf.length} bytes)`);
  return {
    err: buf.readInt32LE(0),
    flags: buf.readUInt32LE(4),
    count: buf.readUInt32LE(8),
    stat: decodeStat(buf, 16),
    pad: buf.readUInt32LE(12),
    payload: buf.subarray(FF_RESP_SIZE),
  };
}

/** The entries of one READDIR reply payload. */
export function decodeDirEntries(payload: Buffer, count: number): DirEntry[] {
  const out: DirEntry[] = [];
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + FF_STAT_SIZE + 2 > payload.length) throw new Error('forkfile: truncated directory listing');
    const stat = decodeStat(payload, off);
    const len = payload.readUInt16LE(off + FF_STAT_SIZE);
    const start = off + FF_STAT_SIZE + 2;
    if (start + len > payload.length) throw new Error('forkfile: truncated directory listing');
    out.push({ name: payload.toString('utf8', start, start + len), stat });
    off = start + len;
  }
  return out;
}

/** The 11 fields of a STATVFS reply payload. */
export function decodeStatvfs(payload: Buffer): FsStats {
  if (payload.length < 88) throw new Error('forkfile: short statvfs reply');
  const f = (i: number): number => Number(payload.readBigUInt64LE(i * 8));
  return {
    bsize: f(0),
    frsize: f(1),
    blocks: f(2),
    bfree: f(3),
    bavail: f(4),
    files: f(5),
    ffree: f(6),
    favail: f(7),
    fsid: f(8),
    flag: f(9),
    namemax: f(10),
  };
}
