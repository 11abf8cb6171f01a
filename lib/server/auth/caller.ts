/**
 * Who sent a request: the Unix socket (always trusted, full access) or a TLS
 * peer, trusted when its certificate's fingerprint is in the store as a
 * client or server (cluster member) certificate. Decided per request, so a removed certificate is
 * refused on the very next call.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Certificate } from '../../api/certificate';
import type { TrustStore } from './trust-store';
import { fingerprintOf } from './x509';

/** The authenticated caller of one request. */
export interface Caller {
  protocol: 'unix' | 'tls';
  /** SHA-256 of the TLS peer certificate, or null (Unix socket, or no certificate sent). */
  fingerprint: string | null;
  /** The trust store entry of the peer certificate, whatever its type. */
  certificate: Certificate | undefined;
  /** Unix socket, or a client certificate in the store. */
  trusted: boolean;
  /** For a restricted certificate, the projects it may use; null means every project. */
  projects: string[] | null;
}

const peerFingerprints = new WeakMap<Socket, string | null>();

/**
 * The peer certificate's fingerprint, computed once per TLS connection.
 * Read from the handshake's own certificate object: re-parsing its DER
 * (getPeerCertificate().raw into an X509Certificate) costs half a
 * millisecond per connection with OpenSSL 3, and an exec opens three.
 */
export function peerFingerprint(socket: Socket): string | null {
  if (peerFingerprints.has(socket)) return peerFingerprints.get(socket)!;
  const tls = socket as TLSSocket;
  const cert = typeof tls.getPeerX509Certificate === 'function' ? tls.getPeerX509Certificate() : undefined;
  const fp = cert ? fingerprintOf(cert) : null;
  peerFingerprints.set(socket, fp);
  return fp;
}

/** Whether the request came over TLS (the HTTPS listener) rather than the Unix socket. */
export function isTls(socket: Socket): boolean {
  return (socket as TLSSocket).encrypted === true;
}

export function callerOf(req: IncomingMessage, trust: TrustStore): Caller {
  const socket = req.socket;
  if (!isTls(socket)) return { protocol: 'unix', fingerprint: null, certificate: undefined, trusted: true, projects: null };
  const fingerprint = peerFingerprint(socket);
  const certificate = fingerprint ? trust.lookup(fingerprint) : undefined;
  // Server certificates are cluster members' (Incus trusts them fully).
  const trusted = certificate?.type === 'client' || certificate?.type === 'server';
  return { protocol: 'tls', fingerprint, certificate, trusted, projects: trusted && certificate!.restricted ? certificate!.projects : null };
}
