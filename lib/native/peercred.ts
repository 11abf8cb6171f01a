/**
 * The kernel's record of who is at the other end of a unix socket
 * (SO_PEERCRED): the only identity the guest API trusts.
 */
import type { Socket } from 'node:net';
import { binding } from './addon';
import { NativeError } from './errors';

/** Peer credentials of a unix socket connection, pid in the daemon's pid namespace. */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** The fd behind an accepted Node socket (libuv's pipe handle), or null once it is closed. */
function socketFd(socket: Socket): number | null {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/**
 * Reads SO_PEERCRED of an accepted unix socket connection. Returns null
 * when the socket has no fd any more or the kernel has no peer for it.
 */
export function peerCredentials(socket: Socket): PeerCredentials | null {
  const fd = socketFd(socket);
  if (fd === null) return null;
  try {
    const cred = binding().peerCredentials(fd);
    // The kernel reports pid 0 when the peer's pid has no number in our namespace.
    return cred.pid > 0 ? cred : null;
  } catch (err) {
    const e = NativeError.from(err, { op: 'peerCredentials' });
    if (e.code === 'EBADF' || e.code === 'ENOTCONN' || e.code === 'ENOTSOCK') return null;
    throw e;
  }
}
