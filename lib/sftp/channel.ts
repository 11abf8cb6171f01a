/**
 * Raw SFTP over any byte stream (an upgraded HTTP connection) with the
 * `ssh2` package's SFTP implementation (lib/protocol/SFTP.js), which expects
 * an SSH channel: this module stands in for the channel and its protocol
 * object (channelData/channelClose, an open window of unlimited size) and
 * types the part of the class that the daemon and the client use. Shared by
 * lib/server and lib/client, like lib/api.
 */
import type { EventEmitter } from 'node:events';
import type { Duplex, Readable } from 'node:stream';

/** SFTP file attributes (version 3); times in seconds. */
export interface SftpAttrs {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  atime?: number;
  mtime?: number;
}

/** One entry of a NAME reply. */
export interface SftpName {
  filename: string;
  longname: string;
  attrs: SftpAttrs;
}

/** Status codes of SSH_FXP_STATUS. */
export const SftpStatus = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  OP_UNSUPPORTED: 8,
} as const;

/** SSH_FXF_* open flags. */
export const SftpOpenFlag = { READ: 0x1, WRITE: 0x2, APPEND: 0x4, CREAT: 0x8, TRUNC: 0x10, EXCL: 0x20 } as const;

/** The server side of ssh2's SFTP class: requests arrive as events, replies go out through these. */
export interface SftpServerStream extends EventEmitter {
  handle(reqid: number, handle: Buffer): void;
  status(reqid: number, code: number, message?: string): void;
  data(reqid: number, data: Buffer): void;
  name(reqid: number, names: SftpName[]): void;
  attrs(reqid: number, attrs: SftpAttrs): void;
}

type Cb<T> = (err: Error | null | undefined, value: T) => void;

/** ssh2's Stats: attrs plus type predicates. */
export interface SftpStats extends Required<Pick<SftpAttrs, 'mode' | 'uid' | 'gid' | 'size' | 'atime' | 'mtime'>> {
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
}

/** The client side of ssh2's SFTP class (callback style, as ssh2 has it). */
export interface SftpClientStream extends EventEmitter {
  readdir(path: string, cb: Cb<SftpName[]>): void;
  stat(path: string, cb: Cb<SftpStats>): void;
  lstat(path: string, cb: Cb<SftpStats>): void;
  mkdir(path: string, attrs: SftpAttrs, cb: Cb<void>): void;
  rmdir(path: string, cb: Cb<void>): void;
  unlink(path: string, cb: Cb<void>): void;
  rename(from: string, to: string, cb: Cb<void>): void;
  symlink(target: string, link: string, cb: Cb<void>): void;
  readlink(path: string, cb: Cb<string>): void;
  setstat(path: string, attrs: SftpAttrs, cb: Cb<void>): void;
  realpath(path: string, cb: Cb<string>): void;
  fastGet(remote: string, local: string, opts: { concurrency?: number; chunkSize?: number }, cb: Cb<void>): void;
  fastPut(local: string, remote: string, opts: { concurrency?: number; chunkSize?: number; mode?: number }, cb: Cb<void>): void;
  createReadStream(path: string, opts?: { highWaterMark?: number }): Readable;
  ext_openssh_statvfs(path: string, cb: Cb<Record<string, number>>): void;
  ext_openssh_rename(from: string, to: string, cb: Cb<void>): void;
  end(): void;
}

/** What ssh2's SFTP constructor reads from its client and channel info. */
interface ChannelHalf {
  id: number;
  window: number;
  packetSize: number;
  state: string;
}

type SftpCtor = new (
  client: { _protocol: Record<string, unknown> },
  chanInfo: { type: string; incoming: ChannelHalf; outgoing: ChannelHalf },
  cfg: { server: boolean },
) => EventEmitter & { push(data: Buffer | null): void; _init(): void; destroy(): void };

/**
 * Peers are told we are OpenSSH: ssh2 then swaps SYMLINK's arguments the
 * way OpenSSH (and clients such as Go's pkg/sftp) send them, and sizes
 * reads and writes for OpenSSH's 256 KiB packets.
 */
const IDENT = 'SSH-2.0-OpenSSH_9.2 incus-ts';

/** Options of {@link attachSftp}. */
export interface AttachOptions {
  /** Server side: extensions to announce in the VERSION packet (name -> data). */
  extensions?: Record<string, string>;
}

/** An attached SFTP stream and a way to send packets ssh2 cannot build (EXTENDED_REPLY). */
export interface AttachedSftp<T> {
  sftp: T;
  /** Writes one complete SFTP packet (length prefix included), in order with ssh2's own. */
  writePacket(packet: Buffer): void;
}

function loadSftp(): SftpCtor {
  return (require('ssh2/lib/protocol/SFTP.js') as { SFTP: SftpCtor }).SFTP;
}

/** VERSION 3 with extension pairs. */
function versionPacket(extensions: Record<string, string>): Buffer {
  const parts: Buffer[] = [Buffer.from([2, 0, 0, 0, 3])];
  for (const [k, v] of Object.entries(extensions)) parts.push(sshString(k), sshString(v));
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** An SSH string: uint32 length, bytes. */
export function sshString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

function attach(socket: Duplex, server: boolean, opts: AttachOptions, head?: Buffer): AttachedSftp<EventEmitter> {
  const SFTP = loadSftp();
  let versionSent = false;
  let ended = false;
  let draining = false;
  const write = (data: Buffer): void => {
    if (socket.destroyed) return;
    // Server back-pressure: take no more requests until the client reads our
    // replies (a client never pauses, so the two cannot wait on each other).
    if (!socket.write(data) && server && !draining) {
      draining = true;
      socket.pause();
      socket.once('drain', () => {
        draining = false;
        socket.resume();
      });
    }
  };
  const protocol = {
    _remoteIdentRaw: IDENT,
    channelData: (_id: number, data: Buffer): void => {
      if (server && !versionSent && opts.extensions && data[4] === 2) {
        versionSent = true;
        write(versionPacket(opts.extensions));
        return;
      }
      versionSent = true;
      write(data);
    },
    channelEOF: (): void => void socket.end(),
    channelClose: (): void => void socket.end(),
    channelWindowAdjust: (): void => undefined,
  };
  const half = (): ChannelHalf => ({ id: 0, window: Number.POSITIVE_INFINITY, packetSize: Number.POSITIVE_INFINITY, state: 'open' });
  const sftp = new SFTP({ _protocol: protocol }, { type: 'sftp', incoming: half(), outgoing: half() }, { server });
  const finish = (): void => {
    if (ended) return;
    ended = true;
    sftp.push(null);
    sftp.emit('close');
    // The peer is gone or done: close our half too.
    socket.end();
  };
  socket.on('data', (b: Buffer) => sftp.push(b));
  socket.once('end', finish);
  socket.once('close', finish);
  socket.on('error', () => socket.destroy());
  if (head && head.length > 0) sftp.push(head);
  if (!server) sftp._init();
  return { sftp, writePacket: write };
}

/** Serves SFTP on `socket`; `head` is data that arrived with the upgrade request. */
export function attachSftpServer(socket: Duplex, opts: AttachOptions = {}, head?: Buffer): AttachedSftp<SftpServerStream> {
  const a = attach(socket, true, opts, head);
  return { sftp: a.sftp as SftpServerStream, writePacket: a.writePacket };
}

/** Speaks SFTP as a client on `socket`; wait for 'ready' before the first call. */
export function attachSftpClient(socket: Duplex): SftpClientStream {
  return attach(socket, false, {}).sftp as SftpClientStream;
}
