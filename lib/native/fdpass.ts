/**
 * Message sockets with fd passing over the addon (seqpacketPair, sendMsg,
 * recvMsg), plus an awaitable receive that waits with pollReadable, so no
 * libuv pool thread is ever parked on a socket.
 */
import { binding } from './addon';
import { NativeError } from './errors';

/** One received message; `fds` are CLOEXEC and now belong to the caller. */
export interface ReceivedMessage {
  data: Buffer;
  fds: number[];
  truncated: boolean;
}

function checkFd(op: string, fd: unknown): asserts fd is number {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`${op}: fd must be a non-negative integer, got ${String(fd)}`);
  }
}

/** A SOCK_SEQPACKET pair: [ours (non-blocking), theirs (blocking, for a child)]. */
export function seqpacketPair(): [number, number] {
  try {
    return binding().seqpacketPair();
  } catch (err) {
    throw NativeError.from(err, { op: 'seqpacketPair' });
  }
}

/** Sends one message (with fds as SCM_RIGHTS); throws EAGAIN when the socket is full. */
export function sendMessage(fd: number, data: Buffer, fds?: number[]): void {
  checkFd('sendMsg', fd);
  let n: number;
  try {
    n = binding().sendMsg(fd, data, fds);
  } catch (err) {
    throw NativeError.from(err, { op: 'sendMsg' });
  }
  // A seqpacket message goes whole or not at all; anything else is a bug.
  if (n !== data.length) throw new NativeError(`sendMsg: short send (${n} of ${data.length} bytes)`, { code: 'EIO', op: 'sendMsg' });
}

/** The next message on a non-blocking socket (empty `data` at end of stream). */
export async function receiveMessage(fd: number, maxLen: number): Promise<ReceivedMessage> {
  checkFd('recvMsg', fd);
  const b = binding();
  for (;;) {
    let m: ReceivedMessage | null;
    try {
      m = b.recvMsg(fd, maxLen);
    } catch (err) {
      throw NativeError.from(err, { op: 'recvMsg' });
    }
    if (m) return m;
    await b.pollReadable(fd);
  }
}
