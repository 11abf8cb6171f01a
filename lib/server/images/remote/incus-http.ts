/**
 * GET requests to another Incus-compatible server (HTTPS, loopback HTTP or
 * a Unix socket), answering streams for downloads and decoded envelopes for
 * API calls.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ServerUrl } from './server-url';

/** GET `path` on the server; resolves with the response (body not yet read). */
export function remoteGet(server: ServerUrl, path: string, opts: { signal?: AbortSignal; certificate?: string } = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers = { 'User-Agent': 'incus-ts' };
    let req;
    if (server.kind === 'unix') {
      req = httpRequest({ socketPath: server.socketPath, path, headers, signal: opts.signal });
    } else {
      const u = new URL(path, server.url);
      const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
      // A pinned certificate replaces the system CAs, as Incus's TLSServerCert does.
      req = send(u, { headers, signal: opts.signal, ...(opts.certificate ? { ca: opts.certificate } : {}) });
    }
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** An API call answering a sync envelope; throws the server's error message otherwise. */
export async function remoteApi<T>(server: ServerUrl, path: string, opts: { signal?: AbortSignal; certificate?: string } = {}): Promise<T> {
  const res = await remoteGet(server, path, opts);
  const text = await readAll(res);
  let env: { type?: string; metadata?: unknown; error?: string };
  try {
    env = JSON.parse(text) as typeof env;
  } catch {
    throw new Error(`Bad response from the remote server for ${path} (HTTP ${res.statusCode})`);
  }
  if (env.type === 'error' || (res.statusCode ?? 500) >= 400) throw Object.assign(new Error(env.error || `HTTP ${res.statusCode}`), { status: res.statusCode });
  return env.metadata as T;
}
