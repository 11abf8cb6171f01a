/**
 * Requests to another Incus-compatible server (HTTPS, loopback HTTP or a
 * Unix socket), answering streams for downloads and decoded envelopes for
 * API calls; a body (an image pushed) is streamed.
 */
import { X509Certificate } from 'node:crypto';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PeerCertificate } from 'node:tls';
import type { ServerUrl } from './server-url';

/** What a request to another server may carry. */
export interface RemoteRequestOptions {
  signal?: AbortSignal;
  /** The server's certificate (PEM): then the only one trusted, whatever name the server is reached by. */
  certificate?: string;
  headers?: Record<string, string>;
  /** Streamed as the request body. */
  body?: Readable;
}

/** Sends `method path` to the server; resolves with the response (body not yet read). */
export function remoteRequest(server: ServerUrl, method: string, path: string, opts: RemoteRequestOptions = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = { 'User-Agent': 'incus-ts', ...opts.headers };
    let req: ClientRequest;
    if (server.kind === 'unix') {
      req = httpRequest({ method, socketPath: server.socketPath, path, headers, signal: opts.signal });
    } else {
      const u = new URL(path, server.url);
      const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
      req = send(u, { method, headers, signal: opts.signal, ...(opts.certificate ? pinned(opts.certificate) : {}) });
    }
    req.on('response', resolve);
    req.on('error', reject);
    if (!opts.body) {
      req.end();
      return;
    }
    // A failed read of the body (a file gone) aborts the request.
    pipeline(opts.body, req).catch((err: Error) => {
      req.destroy(err);
      reject(err);
    });
  });
}

/** A pinned certificate replaces the system CAs and the host name check, as Incus's TLSServerCert does. */
function pinned(certificate: string): { ca: string; checkServerIdentity: (host: string, cert: PeerCertificate) => Error | undefined } {
  const want = new X509Certificate(certificate).fingerprint256;
  return {
    ca: certificate,
    checkServerIdentity: (_host, cert) => (cert.fingerprint256 === want ? undefined : new Error('Server certificate does not match the pinned one')),
  };
}

/** GET `path` on the server; resolves with the response (body not yet read). */
export function remoteGet(server: ServerUrl, path: string, opts: { signal?: AbortSignal; certificate?: string } = {}): Promise<IncomingMessage> {
  return remoteRequest(server, 'GET', path, opts);
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A decoded response envelope; the server's error message is thrown for an error answer. */
export async function readEnvelope(res: IncomingMessage, what: string): Promise<{ type: string; metadata: unknown }> {
  const text = await readAll(res);
  let env: { type?: string; metadata?: unknown; error?: string };
  try {
    env = JSON.parse(text) as typeof env;
  } catch {
    throw new Error(`Bad response from the remote server for ${what} (HTTP ${res.statusCode})`);
  }
  if (env.type === 'error' || (res.statusCode ?? 500) >= 400) throw Object.assign(new Error(env.error || `HTTP ${res.statusCode}`), { status: res.statusCode });
  return { type: env.type ?? '', metadata: env.metadata };
}

/** An API call answering a sync envelope; throws the server's error message otherwise. */
export async function remoteApi<T>(server: ServerUrl, path: string, opts: { signal?: AbortSignal; certificate?: string } = {}): Promise<T> {
  return (await readEnvelope(await remoteGet(server, path, opts), path)).metadata as T;
}
