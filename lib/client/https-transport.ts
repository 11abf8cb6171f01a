/**
 * HTTP over TLS to a remote daemon, presenting the client's certificate and,
 * when the remote's certificate was stored at `remote add`, trusting that
 * certificate alone (pinned by fingerprint; the host name is not checked, as
 * the address may be any of the server's). Without a stored certificate the
 * system CAs apply, as in Incus.
 */
import { X509Certificate } from 'node:crypto';
import * as https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, createSecureContext, TLSSocket, type ConnectionOptions, type PeerCertificate, type SecureContext } from 'node:tls';
import type WebSocket from 'ws';
import { ConnectionError } from './errors';
import { exchange, requestHeaders } from './http-exchange';
import type { StreamRequest, Transport, TransportRequest, TransportResponse } from './transport';

/** What an {@link HttpsTransport} needs to reach and trust a server. */
export interface HttpsOptions {
  /** `https://host:port` (no path). */
  url: string;
  /** More addresses of the same server, tried in order when `url` cannot be reached (as Incus tries a remote's addresses). */
  fallbackUrls?: string[];
  /** Client certificate and key (PEM); omitted for public servers. */
  clientCert?: string;
  clientKey?: string;
  /** The server certificate (PEM) to pin; undefined: verify against the system CAs. */
  serverCert?: string;
  userAgent?: string;
}

/** SHA-256 of a certificate's DER as Incus prints it: lower-case hex, no colons. */
export function certFingerprint(pem: string | Buffer): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
}

/** Node's codes for a server certificate the pinned one (or the system CAs) does not vouch for. */
const VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_INCUS_CERT_MISMATCH',
]);

/** Go's url.Error operation name for a method (`GET` -> `Get`). */
const opName = (method: string): string => method.charAt(0) + method.slice(1).toLowerCase();

/**
 * Incus's wording for a failed HTTPS exchange: `Get "URL": ...`, with the
 * certificate and dial failures phrased as Go's client phrases them.
 */
export function httpsErrorFor(err: NodeJS.ErrnoException, method: string, url: string, hostPort: string): Error {
  const code = err.code ?? '';
  const where = `${opName(method)} "${url}"`;
  if (VERIFY_CODES.has(code)) {
    return new ConnectionError(`${where}: tls: failed to verify certificate: x509: certificate signed by unknown authority`, code, url);
  }
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET'].includes(code)) {
    const why = code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message;
    return new ConnectionError(`${where}: Unable to connect to: ${hostPort} ([dial tcp ${hostPort}: ${why}])`, code, url);
  }
  return err;
}

/** Failures where nothing reached the server, so another address may be tried. */
const DIAL_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** One address of the server. */
interface Endpoint {
  host: string;
  port: number;
  hostPort: string;
  address: string;
}

function endpointOf(url: string): Endpoint {
  const u = new URL(url);
  if (u.protocol !== 'https:') throw new Error(`Invalid URL scheme "${u.protocol.replace(/:$/, '')}" in "${url}"`);
  const port = Number(u.port || 8443);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, hostPort: `${u.hostname}:${port}`, address: `https://${u.hostname}:${port}` };
}

/** TLSSocket's long-standing (untyped) setter behind tls.connect's `session` option. */
type Resumable = TLSSocket & { setSession(session: Buffer): void };

/**
 * A keep-alive agent that resumes the last TLS session of each address,
 * like https.Agent's own cache but setting the session once: tls.connect
 * given `session` decodes it twice (in the socket's constructor and again
 * after), and each decode (OpenSSL 3 parsing the server certificate in it)
 * costs about half a millisecond, three times per exec.
 */
class ResumingAgent extends https.Agent {
  private readonly sessions = new Map<string, Buffer>();

  /** Whether a connection to host:port would resume a session (an abbreviated handshake). */
  canResume(host: string, port: number): boolean {
    return this.sessions.has(`${host}:${port}`);
  }

  override createConnection(options: https.RequestOptions): Duplex {
    const key = `${options.host ?? ''}:${options.port ?? ''}`;
    const session = this.sessions.get(key);
    const late = session !== undefined && typeof (TLSSocket.prototype as Resumable).setSession === 'function';
    const socket = tlsConnect({ ...(options as ConnectionOptions), ...(session && !late ? { session } : {}) });
    // The handshake starts once TCP connects, so the session is in place in time.
    if (late) (socket as Resumable).setSession(session);
    // Requests and frames are small and answered at once: with Nagle a write
    // following the handshake's can wait for a delayed ACK (up to 40 ms).
    socket.setNoDelay(true);
    socket.on('session', (s: Buffer) => this.sessions.set(key, s));
    // A session the server would not take is not offered again.
    socket.once('close', (hadError: boolean) => {
      if (hadError) this.sessions.delete(key);
    });
    return socket;
  }
}

/** {@link Transport} over HTTPS with a client certificate and keep-alive connections. */
export class HttpsTransport implements Transport {
  private readonly agent: ResumingAgent;
  private readonly endpoints: Endpoint[];
  /** The address in use: the first that answered. */
  private current = 0;
  private readonly pinned?: string;
  /** Built on first use by {@link secureContext}. */
  private context?: SecureContext;

  constructor(private readonly opts: HttpsOptions) {
    this.endpoints = [opts.url, ...(opts.fallbackUrls ?? [])].map(endpointOf);
    this.pinned = opts.serverCert ? certFingerprint(opts.serverCert) : undefined;
    this.agent = new ResumingAgent({ keepAlive: true, ...this.tlsOptions() });
  }

  /**
   * TLS options shared by requests and websockets: one secure context for
   * the transport's life, so a new connection does not parse the key and
   * certificates again (an exec opens three or four websockets).
   */
  private tlsOptions(): https.AgentOptions {
    const o: https.AgentOptions = { secureContext: this.secureContext() };
    if (this.opts.serverCert) {
      const pinned = this.pinned;
      // Trust is the exact certificate, whatever name the server is reached by.
      o.checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined => {
        const fp = cert.fingerprint256?.replace(/:/g, '').toLowerCase();
        if (fp === pinned) return undefined;
        return Object.assign(new Error('server certificate does not match the stored one'), { code: 'ERR_INCUS_CERT_MISMATCH' });
      };
    }
    return o;
  }

  /** The client keypair and the pinned certificate as the sole CA (or the system CAs when none is pinned). */
  private secureContext(): SecureContext {
    if (this.context === undefined) {
      const both = this.opts.clientCert && this.opts.clientKey;
      this.context = createSecureContext({
        ...(both ? { cert: this.opts.clientCert, key: this.opts.clientKey } : {}),
        ...(this.opts.serverCert ? { ca: this.opts.serverCert } : {}),
      });
    }
    return this.context;
  }

  get address(): string {
    return this.ep.address;
  }

  private get ep(): Endpoint {
    return this.endpoints[this.current] as Endpoint;
  }

  private get host(): string {
    return this.ep.host;
  }

  private get port(): number {
    return this.ep.port;
  }

  private get hostPort(): string {
    return this.ep.hostPort;
  }

  async request(req: TransportRequest): Promise<TransportResponse> {
    // A streamed body cannot be sent twice, so only buffers move on to another address.
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    for (let tries = 1; ; tries++) {
      try {
        return await this.requestOnce(req);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        if (!replayable || !DIAL_CODES.has(code) || tries >= this.endpoints.length) throw err;
        this.current = (this.current + 1) % this.endpoints.length;
      }
    }
  }

  private requestOnce(req: TransportRequest): Promise<TransportResponse> {
    const clientReq = https.request({
      host: this.host,
      port: this.port,
      agent: this.agent,
      method: req.method,
      path: req.path,
      headers: requestHeaders(req, { 'User-Agent': this.opts.userAgent ?? 'incus-ts' }),
      signal: req.signal,
    });
    return exchange(clientReq, req, (err) => httpsErrorFor(err, req.method, `${this.address}${req.path}`, this.hostPort));
  }

  openRequest(method: string, path: string, headers: Record<string, string | number>, agent = true): StreamRequest {
    const req = https.request({
      host: this.host,
      port: this.port,
      // An upgraded connection leaves the pool, so it gets its own TLS session.
      ...(agent ? { agent: this.agent } : { agent: false, ...this.tlsOptions() }),
      method,
      path,
      headers: { 'User-Agent': this.opts.userAgent ?? 'incus-ts', ...headers },
    });
    return { req, mapError: (err) => httpsErrorFor(err, method, `${this.address}${path}`, this.hostPort) };
  }

  openWebSocket(path: string, connection?: Duplex): WebSocket {
    // Loaded here so that commands without websockets never pay for `ws`.
    const WS = require('ws') as typeof WebSocket;
    return new WS(`wss://${this.hostPort}${path}`, {
      ...this.tlsOptions(),
      // Through the keep-alive agent (or over a connection it started early):
      // its TLS session cache lets each websocket resume the session instead
      // of a full handshake (an exec opens three or four of them). The
      // upgraded socket leaves the pool.
      ...(connection ? { createConnection: () => connection } : { agent: this.agent }),
      headers: { 'User-Agent': this.opts.userAgent ?? 'incus-ts' },
    });
  }

  preconnect(): Duplex | undefined {
    // Only to resume a session: full handshakes racing the request's own would cost more than they hide.
    if (!this.agent.canResume(this.host, this.port)) return undefined;
    // The agent's own connect: same secure context, pinned certificate and resumed session.
    return this.agent.createConnection({ ...this.tlsOptions(), host: this.host, port: this.port, servername: isIP(this.host) ? '' : this.host });
  }

  close(): void {
    this.agent.destroy();
  }
}
