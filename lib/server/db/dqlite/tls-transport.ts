/**
 * Mutual TLS between cluster members with the cluster certificate, as Incus
 * does: every member presents the same certificate and key, and a peer is
 * accepted only when it presents that very certificate (SHA-256 fingerprint
 * pinning; no CA, no hostname check). Used for dqlite's raft traffic and
 * for clients of the database alike.
 */
import { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import type { Dial } from './leader';

/** The cluster keypair (PEM). */
export interface ClusterCertificate {
  certPem: string;
  keyPem: string;
}

/** SHA-256 of a certificate's DER, lower-case hex without colons. */
export function certificateFingerprint(cert: string | Buffer): string {
  return new X509Certificate(cert).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** Whether the peer of socket presented the certificate whose fingerprint is pinned. */
export function peerMatches(socket: tls.TLSSocket, fingerprint: string): boolean {
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.raw) return false;
  return certificateFingerprint(peer.raw) === fingerprint;
}

/** "host:port" or "[v6]:port" split for net.connect. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`dqlite: address must be host:port, got ${address}`);
  return { host: m[1], port };
}

/** A Dial that opens mutual TLS to a member and checks that it presents the cluster certificate. */
export function tlsDial(cluster: ClusterCertificate): Dial {
  const fingerprint = certificateFingerprint(cluster.certPem);
  return (address: string) =>
    new Promise<Duplex>((resolve, reject) => {
      const { host, port } = splitHostPort(address);
      const socket = tls.connect({
        host,
        port,
        cert: cluster.certPem,
        key: cluster.keyPem,
        // Trust is the pinned fingerprint, checked below, not a CA or a name.
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
        minVersion: 'TLSv1.2',
        servername: host.includes(':') ? undefined : host,
      });
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        socket.removeListener('error', reject);
        if (!peerMatches(socket, fingerprint)) {
          socket.destroy();
          reject(Object.assign(new Error(`${address} did not present the cluster certificate`), { code: 'ECERTMISMATCH' }));
          return;
        }
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
}

/**
 * A TLS server that asks every peer for a certificate and hands on only the
 * connections whose peer presents the cluster certificate; others are
 * closed. The caller listens on it (127.0.0.1 or the cluster address).
 */
export function tlsClusterServer(cluster: ClusterCertificate, onConnection: (socket: tls.TLSSocket) => void): tls.Server {
  const fingerprint = certificateFingerprint(cluster.certPem);
  return tls.createServer(
    { cert: cluster.certPem, key: cluster.keyPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' },
    (socket) => {
      if (!peerMatches(socket, fingerprint)) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      onConnection(socket);
    },
  );
}
