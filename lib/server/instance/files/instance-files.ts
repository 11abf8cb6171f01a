/**
 * File access inside an instance, as the files API, SFTP and pushes use
 * it: a small filesystem surface a driver opens per request (containers:
 * the forkfile helper in the container's namespaces or its rootfs; VMs:
 * the guest agent). Both speak the forkfile requests (FileRequests); they
 * differ in what an opened file is: an fd here (containers) or a stream
 * through the agent (VMs).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import type { FileSession, FileStat, OpenedFile, OpenOptions } from '../../../native/forkfile';

/** A file opened without an fd on this host (a VM's, through its agent): its content as a stream. */
export interface StreamedFile {
  fd?: undefined;
  created: boolean;
  stat: FileStat;
  /** Opened read-only: the content from offset 0, flowing from the open on. */
  readable?: Readable;
  /** Opened for writing: bytes written in order; finishes once all are in the file. Destroy it to abandon. */
  writable?: Writable;
}

/** What `open` gives: a local fd, or streams. */
export type InstanceOpenedFile = OpenedFile | StreamedFile;

type PathCalls =
  | 'close'
  | 'lstat'
  | 'stat'
  | 'readdir'
  | 'mkdir'
  | 'symlink'
  | 'readlink'
  | 'remove'
  | 'rmdir'
  | 'removeAll'
  | 'rename'
  | 'link'
  | 'setstat'
  | 'fstat'
  | 'fsetstat'
  | 'statvfs';

/**
 * Positional I/O on files opened with `random: true` where the file is
 * not a local fd (VMs: the `fd` is the agent's handle). Containers have
 * none: their fds are read and written directly.
 */
export interface RemoteFileIo {
  /** Up to `length` bytes at `position`; empty at end of file. */
  pread(handle: number, length: number, position: number): Promise<Buffer>;
  pwrite(handle: number, data: Buffer, position: number): Promise<void>;
  fsync(handle: number): Promise<void>;
  closeHandle(handle: number): Promise<void>;
}

export type InstanceFiles = Pick<FileSession, PathCalls> & {
  /** Opens a regular file; see {@link InstanceOpenedFile}. */
  open(path: string, opts: OpenOptions): Promise<InstanceOpenedFile>;
  /** Set when files opened with `random: true` are remote handles, not local fds (then fstat/fsetstat take the handle). */
  readonly remoteIo?: RemoteFileIo;
};

/** The content of a file opened for reading, at most `size` bytes from the start (the fd is closed at the end). */
export function openedReadStream(f: InstanceOpenedFile, size: number, chunk: number): Readable {
  if (f.fd !== undefined) return createReadStream('', { fd: f.fd, start: 0, end: size - 1, highWaterMark: chunk, autoClose: true });
  if (!f.readable) throw new Error('file was not opened for reading');
  return f.readable;
}

/**
 * The whole content of a file opened for reading, read to its end (at most
 * `limit` bytes): for files whose stat size says nothing of their content
 * (procfs says 0, sysfs 4096). The fd or stream is let go.
 */
export async function readToEnd(f: InstanceOpenedFile, limit: number): Promise<Buffer> {
  const stream = f.fd !== undefined ? createReadStream('', { fd: f.fd, autoClose: true, highWaterMark: 64 * 1024 }) : f.readable;
  if (!stream) throw new Error('file was not opened for reading');
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of stream) {
      const b = c as Buffer;
      chunks.push(b);
      size += b.length;
      if (size >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks).subarray(0, limit);
}

/** Where the bytes for a file opened for writing go (the fd is closed at the end). */
export function openedWriteStream(f: InstanceOpenedFile, chunk: number): Writable {
  if (f.fd !== undefined) return createWriteStream('', { fd: f.fd, autoClose: true, highWaterMark: chunk });
  if (!f.writable) throw new Error('file was not opened for writing');
  return f.writable;
}

/** Lets go of an opened file not used after all. */
export function discardOpened(f: InstanceOpenedFile, closeFd: (fd: number) => void): void {
  if (f.fd !== undefined) closeFd(f.fd);
  else (f.readable ?? f.writable)?.destroy();
}
