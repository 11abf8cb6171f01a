/**
 * Timeouts on the API's HTTP server. A request whose body stops arriving is
 * dropped after INCUS_HTTP_IDLE_TIMEOUT seconds without a byte (default 60);
 * so is a connection that never completes its headers. Time spent once the
 * body is in (long-poll `?wait`, `/operations/<id>/wait`, a slow operation)
 * and upgraded websockets are never cut, and a large upload that keeps
 * flowing may take as long as it needs: the limit is on silence, not on
 * total time.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** Default seconds of silence allowed in the middle of a request. */
export const DEFAULT_IDLE_TIMEOUT_S = 60;

/** The idle timeout in milliseconds, from INCUS_HTTP_IDLE_TIMEOUT (seconds) or the default. */
export function idleTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.INCUS_HTTP_IDLE_TIMEOUT);
  return (Number.isFinite(v) && v > 0 ? v : DEFAULT_IDLE_TIMEOUT_S) * 1000;
}

/** Whether the request announces a body (fixed length above 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = Number(req.headers['content-length'] ?? 0);
  return len > 0 || Number.isNaN(len);
}

/** Applies the idle timeouts to the server fastify created. */
export function applyTimeouts(server: Server, idleMs: number): void {
  // Node itself enforces these on connections still sending headers.
  server.headersTimeout = idleMs;
  server.requestTimeout = 0;
  // Node checks headersTimeout only this often (30 s by default); the checker
  // reads this when the server starts listening.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(250, Math.min(30_000, Math.floor(idleMs / 2)));

  const current = new WeakMap<Socket, IncomingMessage>();
  server.on('request', (req: IncomingMessage) => {
    if (!hasBody(req) || req.complete) return;
    const sock = req.socket;
    current.set(sock, req);
    sock.setTimeout(idleMs);
    const done = (): void => {
      if (current.get(sock) === req) current.delete(sock);
      sock.setTimeout(0);
    };
    req.once('end', done);
    req.once('close', done);
  });
  // Reached when a socket timer fires and neither the request nor the response took it.
  server.on('timeout', (sock: Socket) => {
    const req = current.get(sock);
    if (req && !req.complete) sock.destroy();
  });
}
