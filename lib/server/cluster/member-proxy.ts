/**
 * Passing a client's request on to the cluster member that serves it
 * (Incus's ForwardedResponse and its websocket proxy): the request goes out
 * over TLS with the cluster keypair as client certificate, the other side
 * is trusted only when it shows the cluster certificate, and the answer
 * (status, headers, body) streams back unchanged. Websocket upgrades are
 * passed on the same way and then spliced byte for byte.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { request, type RequestOptions } from 'node:https';
import type { Duplex, Readable } from 'node:stream';
import type { ClusterCertificate } from '../db/dqlite';
import { certificateFingerprint, splitHostPort } from '../db/dqlite/tls-transport';
import { memberAgent, pinPeer } from './member-agent';
import { errorResponse } from '../response';

/** Hop-by-hop headers, which belong to one connection and are not passed on. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

/** Marks a request a member passed on: the receiver serves it itself, never forwarding it again. */
export const FORWARDED_HEADER = 'x-incus-forwarded';

function passedHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  out[FORWARDED_HEADER] = '1';
  return out;
}

/** Request options for `address` with the cluster keypair; `reuse`: on a kept-open connection (not for upgrades, which take theirs over). */
export function options(address: string, cluster: ClusterCertificate, method: string, path: string, headers: Record<string, string | string[]>, reuse = true): RequestOptions {
  const { host, port } = splitHostPort(address);
  return {
    host,
    port,
    method,
    path,
    headers,
    cert: cluster.certPem,
    key: cluster.keyPem,
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    minVersion: 'TLSv1.2',
    agent: reuse ? memberAgent : false,
  };
}

/** Ends the request when the member's certificate is not the cluster's. */
export function pinCluster(req: ReturnType<typeof request>, cluster: ClusterCertificate, address: string): void {
  pinPeer(req, certificateFingerprint(cluster.certPem), () => new Error(`Server certificate of ${address} does not match the cluster certificate`));
}

/**
 * Sends the request to `address` and streams the member's answer into `res`.
 * `body` replaces the request's own (a body already parsed), else the request
 * streams through as it arrives. Resolves to the answer's headers (null when
 * the member could not be reached).
 */
export function forwardRequest(
  address: string,
  cluster: ClusterCertificate,
  req: IncomingMessage,
  res: ServerResponse,
  body?: Buffer,
): Promise<IncomingHttpHeaders | null> {
  const headers = passedHeaders(req.headers);
  if (body !== undefined) headers['content-length'] = String(body.length);
  return new Promise((resolve) => {
    const out = request(options(address, cluster, req.method ?? 'GET', req.url ?? '/', headers), (answer) => {
      const back: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) back[k] = v;
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
      answer.on('end', () => resolve(answer.headers));
      answer.on('error', () => {
        res.destroy();
        resolve(null);
      });
    });
    pinCluster(out, cluster, address);
    out.on('error', (err) => {
      if (!res.headersSent) {
        const text = JSON.stringify(errorResponse(503, `Failed to reach cluster member ${address}: ${err.message}`));
        res.writeHead(503, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      } else {
        res.destroy();
      }
      resolve(null);
    });
    // The client going away ends the member's side too (a long operation wait, an upload).
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    if (body !== undefined) out.end(body);
    else (req as Readable).pipe(out);
  });
}

/** Passes a websocket upgrade on to `address` and splices the two connections once the member accepts it. */
export function forwardUpgrade(address: string, cluster: ClusterCertificate, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const headers = passedHeaders(req.headers);
  headers.connection = 'Upgrade';
  headers.upgrade = String(req.headers.upgrade ?? 'websocket');
  const out = request(options(address, cluster, 'GET', req.url ?? '/', headers, false));
  pinCluster(out, cluster, address);
  out.on('upgrade', (answer, upstream, upHead) => {
    const lines = [`HTTP/1.1 ${answer.statusCode ?? 101} ${answer.statusMessage ?? 'Switching Protocols'}`];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
    const end = (): void => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', end);
    socket.on('error', end);
    upstream.on('close', end);
    socket.on('close', end);
  });
  // The member refused the upgrade: its status and body go back.
  out.on('response', (answer) => {
    const chunks: Buffer[] = [];
    answer.on('data', (c: Buffer) => chunks.push(c));
    answer.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = String(answer.headers['content-type'] ?? 'application/json');
      socket.end(`HTTP/1.1 ${answer.statusCode ?? 502} ${answer.statusMessage ?? ''}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString()}`);
    });
  });
  out.on('error', () => socket.destroy());
  socket.on('error', () => out.destroy());
  out.end();
}
