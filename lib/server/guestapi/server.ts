/**
 * The guest API: one Unix socket, `$INCUS_DIR/guestapi/sock` (mode 0666),
 * which every container with security.guestapi sees as /dev/incus/sock.
 * A caller is known only by the kernel's peer credentials, read once when
 * it connects; the container is looked up again for each request.
 */
import { chmod, unlink } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { type PeerCredentials, peerCredentials } from '../../native/peercred';
import type { DaemonState } from '../state';
import { isFalse } from '../instance/config-keys';
import { GuestEvents } from './events';
import { GuestDenied, type GuestCaller, identifyCaller } from './identify';
import { type GuestRequest, guestApiAllowed, matchGuestRoute, sendError } from './routes';

/** The running guest API listener. */
export interface GuestApi {
  readonly socketPath: string;
  close(): Promise<void>;
}

/** The directory mounted into containers at /dev/incus. */
export function guestApiDir(varDir: string): string {
  return join(varDir, 'guestapi');
}

/** `?type=config,device` (both when absent). */
function eventTypes(url: URL): Set<string> {
  const t = url.searchParams.get('type') || 'config,device';
  return new Set(t.split(','));
}

/** Starts listening on the guest API socket. */
export async function startGuestApi(s: DaemonState): Promise<GuestApi> {
  // The directory itself is one of INCUS_DIR's (var-dirs.ts): containers mount it even while no daemon listens.
  const socketPath = join(guestApiDir(s.varDir), 'sock');
  // A socket left by a daemon that died: the main socket's check has already shown it is not ours.
  await unlink(socketPath).catch(() => undefined);

  const creds = new WeakMap<Socket, PeerCredentials | null>();
  const events = new GuestEvents(s);
  events.start();
  const wss = new WebSocketServer({ noServer: true });
  const streams = new Set<Socket>();

  const resolve = async (req: IncomingMessage, res: ServerResponse | null): Promise<GuestCaller | null> => {
    try {
      return await identifyCaller(s, creds.get(req.socket) ?? null);
    } catch (err) {
      const status = err instanceof GuestDenied ? err.status : 500;
      const message = err instanceof GuestDenied ? err.message : 'internal server error';
      if (res) sendError(res, status, message);
      else req.socket.end(`HTTP/1.1 ${status} Error\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${message}\n`);
      return null;
    }
  };

  const subscribe = (r: GuestRequest, send: (line: string) => void, close: () => void): Promise<() => void> =>
    events.add(r.caller.rec, { types: eventTypes(r.url), send, close });

  /** Events without a websocket: Incus's hijacked stream, one JSON object per line. */
  const streamEvents = async (r: GuestRequest): Promise<void> => {
    const sock = r.req.socket;
    const remove = await subscribe(
      r,
      (line) => sock.write(`${line}\n`),
      () => sock.destroy(),
    );
    // The caller went away while the listener was being added.
    if (sock.destroyed) {
      remove();
      return;
    }
    sock.write('HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n\r\n');
    streams.add(sock);
    sock.once('close', () => {
      streams.delete(sock);
      remove();
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://guestapi');
    const route = matchGuestRoute(url.pathname);
    if (!route) return sendError(res, 404, '404 page not found');
    const caller = await resolve(req, res);
    if (!caller) return;
    const r: GuestRequest = { s, caller, req, res, url, params: route.params };
    if (route.handler === 'events') {
      if (await guestApiAllowed(r)) await streamEvents(r);
      return;
    }
    await route.handler(r);
  };

  const upgrade = async (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://guestapi');
    if (matchGuestRoute(url.pathname)?.handler !== 'events') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n404 page not found\n');
      return;
    }
    const caller = await resolve(req, null);
    if (!caller) return;
    const cfg = (await s.instances.expand(caller.rec)).expanded_config;
    if (isFalse(cfg['security.guestapi'])) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nnot authorized\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let closed = false;
      let remove: (() => void) | null = null;
      ws.on('close', () => {
        closed = true;
        remove?.();
      });
      ws.on('error', () => ws.terminate());
      events
        .add(caller.rec, {
          types: eventTypes(url),
          send: (line) => ws.send(line),
          close: () => ws.terminate(),
        })
        .then(
          (r) => (closed ? r() : (remove = r)),
          () => ws.terminate(),
        );
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      s.log.warn('Guest API request failed', { url: req.url ?? '', err: String(err) });
      if (!res.headersSent) sendError(res, 500, 'internal server error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.headersTimeout = 3_000;
  server.requestTimeout = 3_000;
  server.on('connection', (sock: Socket) => {
    // Read at once: the kernel recorded the peer when it called connect(2).
    try {
      creds.set(sock, peerCredentials(sock));
    } catch {
      creds.set(sock, null);
    }
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgrade(req, socket, head).catch(() => socket.destroy());
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(socketPath, () => {
      server.off('error', rej);
      res();
    });
  });
  await chmod(socketPath, 0o666);

  return {
    socketPath,
    close: async () => {
      events.stop();
      for (const sock of streams) sock.destroy();
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
      await unlink(socketPath).catch(() => undefined);
    },
  };
}
