/**
 * dqlite traffic between members rides the HTTPS listener, as Incus's does:
 * a member dials another over mutual TLS with the cluster certificate and
 * upgrades `POST /internal/database` to the `dqlite` protocol; the receiving
 * member checks that the peer presented the cluster certificate and hands
 * the connection to its dqlite node. No port of its own, one certificate.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type ClusterCertificate, certificateFingerprint, tlsDial } from '../db/dqlite';
import type { Dial } from '../db/dqlite';

export const DATABASE_PATH = '/internal/database';
/** Longest answer head accepted before the upgrade is called failed. */
const MAX_HEAD = 8192;

/** Reads the HTTP answer head; resolves with what came after it. */
function readHead(socket: Duplex): Promise<{ status: number; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, value?: { status: number; rest: Buffer }): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD) done(new Error('dqlite upgrade: answer head too long'));
        return;
      }
      socket.pause();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      done(null, { status, rest: buf.subarray(end + 4) });
    };
    const onError = (err: Error): void => done(err);
    const onClose = (): void => done(new Error('dqlite upgrade: connection closed'));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** A Dial that reaches another member's dqlite node through its HTTPS listener. */
export function databaseDial(cert: () => ClusterCertificate): Dial {
  return async (address: string) => {
    const socket = await tlsDial(cert())(address);
    socket.write(`POST ${DATABASE_PATH} HTTP/1.1\r\nHost: ${address}\r\nUpgrade: dqlite\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n`);
    let head;
    try {
      head = await readHead(socket);
    } catch (err) {
      socket.destroy();
      throw err;
    }
    if (head.status !== 101) {
      socket.destroy();
      throw new Error(`dqlite upgrade refused by ${address} (HTTP ${head.status})`);
    }
    if (head.rest.length > 0) socket.unshift(head.rest);
    socket.resume();
    return socket;
  };
}

/** Whether an upgrade request is a member's dqlite connection. */
export function isDatabaseUpgrade(req: IncomingMessage): boolean {
  return (req.url ?? '').split('?')[0] === DATABASE_PATH && (req.headers.upgrade ?? '').toLowerCase() === 'dqlite';
}

/**
 * Answers a dqlite upgrade: 101 and the connection to `accept` when the peer
 * presented the cluster certificate, else 403 and closed.
 */
export function acceptDatabaseUpgrade(socket: Duplex, head: Buffer, cluster: ClusterCertificate | null, accept: ((s: Duplex) => void) | null): void {
  const tls = socket as TLSSocket;
  const peer = typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : null;
  const trusted = cluster !== null && peer?.raw !== undefined && certificateFingerprint(peer.raw) === certificateFingerprint(cluster.certPem);
  if (!trusted || !accept) {
    socket.end(`HTTP/1.1 ${trusted ? 503 : 403} ${trusted ? 'Service Unavailable' : 'Forbidden'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    return;
  }
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: dqlite\r\nConnection: Upgrade\r\n\r\n');
  if (head.length > 0) socket.unshift(head);
  accept(socket);
}
