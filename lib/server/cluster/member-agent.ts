/**
 * Connections between cluster members are kept open and reused (a launch
 * through another member is four requests, a list one per member): one
 * keep-alive agent for requests made with the cluster keypair, and the
 * pinning check that goes with it. A socket is checked once, when its TLS
 * handshake ends; a reused one was checked then.
 */
import type { ClientRequest } from 'node:http';
import { Agent } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { peerMatches } from '../db/dqlite/tls-transport';

/** Idle connections are closed after this long (the other member may restart meanwhile). */
const IDLE_MS = 30_000;

// No TLS session resumption: a resumed session may not show the peer's certificate, which every new socket must.
export const memberAgent = new Agent({ keepAlive: true, timeout: IDLE_MS, scheduling: 'lifo', maxFreeSockets: 16, maxCachedSessions: 0 });

/** Sockets whose peer certificate was checked, with the fingerprint it matched. */
const checked = new WeakMap<object, string>();

/** Ends `req` with `failure` unless the peer's certificate has `fingerprint` (a reused socket was checked when made). */
export function pinPeer(req: ClientRequest, fingerprint: string, failure: () => Error): void {
  req.on('socket', (socket: TLSSocket) => {
    const seen = checked.get(socket);
    if (seen !== undefined) {
      if (seen !== fingerprint) req.destroy(failure());
      return;
    }
    socket.once('secureConnect', () => {
      if (peerMatches(socket, fingerprint)) checked.set(socket, fingerprint);
      else req.destroy(failure());
    });
  });
}
