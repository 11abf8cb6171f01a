/**
 * The HTTPS listener on `core.https_address`: the same fastify app as the
 * Unix socket, over TLS 1.2+ with client certificates requested but not
 * verified by TLS (trust is decided per request from the peer
 * certificate's fingerprint). Opened, moved and closed live; every
 * connection of a certificate that leaves the store is cut at once.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { clientErrorHandler } from '../http/framework-errors';
import { applyTimeouts, idleTimeoutMs } from '../http/timeouts';
import { peerFingerprint } from './caller';
import type { ServerKeypair } from './server-cert';
import type { TrustStore } from './trust-store';

/** Incus's default HTTPS port. */
export const HTTPS_DEFAULT_PORT = 8443;

/** Host and port to listen on for a `core.https_address` value (Go's SplitHostPort leniency). */
export function parseListenAddress(value: string): { host: string | undefined; port: number } {
  let host = value;
  let port = String(HTTPS_DEFAULT_PORT);
  const bracket = /^\[([^\]]*)\](?::(\d+))?$/.exec(value);
  if (bracket) {
    host = bracket[1]!;
    port = bracket[2] ?? port;
  } else if (value.split(':').length === 2) {
    [host, port] = value.split(':') as [string, string];
    port ||= String(HTTPS_DEFAULT_PORT);
  }
  return { host: host === '' ? undefined : host, port: Number(port) };
}

export interface HttpsListenerDeps {
  keypair: ServerKeypair;
  trust: TrustStore;
  /** fastify's request handler (`app.routing`). */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** The websocket upgrade dispatcher shared with the Unix socket. */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export class HttpsListener {
  private server: Server | null = null;
  private address = '';
  private readonly sockets = new Set<TLSSocket>();
  /** Connections with a request in flight, and those to end once it is answered. */
  private readonly busy = new Set<Duplex>();
  private readonly doomed = new WeakSet<Duplex>();

  /** The keypair served: the server's own, or the cluster's once this host is a member (Incus's NetworkUpdateCert). */
  private pair: { certPem: string; keyPem: string };

  constructor(private readonly deps: HttpsListenerDeps) {
    this.pair = deps.keypair;
    deps.trust.onRevoke((fp) => this.cut(fp));
  }

  /** Serves another keypair from now on (new connections; those open keep theirs). */
  useCertificate(pair: { certPem: string; keyPem: string }): void {
    this.pair = pair;
    this.server?.setSecureContext({ key: pair.keyPem, cert: pair.certPem, minVersion: 'TLSv1.2' });
  }

  /** The address listened on now ("" when closed). */
  get current(): string {
    return this.address;
  }

  /**
   * Listens on `address` ("" closes). On failure the previous listener is
   * restored and the error thrown, so the config is not saved.
   */
  async apply(address: string): Promise<void> {
    if (address === this.address && (address === '' || this.server)) return;
    const previous = this.address;
    // The request that moves the listener (perhaps over it) still gets its answer.
    await this.stop(false);
    if (address === '') return;
    try {
      await this.listen(address);
    } catch (err) {
      if (previous) await this.listen(previous).catch(() => undefined);
      throw new Error(`Cannot listen on https socket: ${(err as Error).message}`);
    }
  }

  /**
   * Closes the listener and its connections; with `force` false a
   * connection with a request in flight ends once that is answered.
   */
  async stop(force = true): Promise<void> {
    const server = this.server;
    this.server = null;
    this.address = '';
    if (!server) return;
    // Closing the listening socket frees the port at once; the callback would wait for every connection.
    server.close();
    for (const s of this.sockets) {
      if (!force && this.busy.has(s)) this.doomed.add(s);
      else s.destroy();
    }
  }

  private async listen(address: string): Promise<void> {
    const { host, port } = parseListenAddress(address);
    const server = createServer(
      {
        key: this.pair.keyPem,
        cert: this.pair.certPem,
        minVersion: 'TLSv1.2',
        requestCert: true,
        rejectUnauthorized: false,
      },
      this.deps.handler,
    );
    applyTimeouts(server, idleTimeoutMs());
    server.on('clientError', clientErrorHandler);
    server.on('upgrade', this.deps.upgrade);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const sock = req.socket;
      this.busy.add(sock);
      res.once('close', () => {
        this.busy.delete(sock);
        if (this.doomed.has(sock)) sock.destroy();
      });
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      peerFingerprint(socket);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Handshake failures (a client refusing our certificate) are the client's business.
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.address = address;
  }

  /** Ends every connection (HTTP keep-alive and websockets alike) made with this certificate. */
  private cut(fingerprint: string): void {
    for (const s of this.sockets) {
      if (peerFingerprint(s) !== fingerprint) continue;
      // The request that removed the certificate still gets its answer.
      if (this.busy.has(s)) this.doomed.add(s);
      else s.destroy();
    }
  }
}
