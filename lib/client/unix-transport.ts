/** HTTP over the daemon's Unix socket (node:http with a keep-alive agent). */
import * as http from 'node:http';
import type WebSocket from 'ws';
import { ConnectionError } from './errors';
import type { Transport, TransportRequest, TransportResponse } from './transport';

/** Incus's wording for a socket nobody listens on, or one we may not open. */
export function connectionErrorFor(err: NodeJS.ErrnoException, socketPath: string): Error {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new ConnectionError(
        `The incus daemon doesn't appear to be started (socket path: ${socketPath})`,
        err.code,
        socketPath,
      );
    case 'EACCES':
      return new ConnectionError(
        `You don't have the needed permissions to talk to the incus daemon (socket path: ${socketPath})`,
        err.code,
        socketPath,
      );
    default:
      return err;
  }
}

/** {@link Transport} over a Unix socket, with keep-alive connections. */
export class UnixTransport implements Transport {
  readonly address: string;
  private readonly agent: http.Agent;

  constructor(readonly socketPath: string, private readonly userAgent = 'incus-ts') {
    this.address = `unix:${socketPath}`;
    // Agent keeps idle sockets unref'd, so a finished CLI run still exits.
    this.agent = new http.Agent({ keepAlive: true, socketPath } as http.AgentOptions);
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {
        Host: 'unix.socket',
        'User-Agent': this.userAgent,
        ...req.headers,
      };
      const body = req.body;
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      const options: http.RequestOptions & { servername: string } = {
        socketPath: this.socketPath,
        agent: this.agent,
        method: req.method,
        path: req.path,
        headers,
        signal: req.signal,
        // A set servername spares the agent an IPv6 regex (milliseconds at start-up).
        servername: '',
      };
      const clientReq = http.request(options);
      clientReq.on('error', (err: NodeJS.ErrnoException) => reject(connectionErrorFor(err, this.socketPath)));
      clientReq.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            statusText: res.statusMessage ?? '',
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      if (body === undefined) {
        clientReq.end();
      } else if (typeof body === 'string' || Buffer.isBuffer(body)) {
        clientReq.end(body);
      } else {
        body.on('error', (err) => clientReq.destroy(err));
        body.pipe(clientReq);
      }
    });
  }

  openWebSocket(path: string): WebSocket {
    // Loaded here so that commands without websockets never pay for `ws`.
    const WS = require('ws') as typeof WebSocket;
    return new WS(`ws+unix://${this.socketPath}:${path}`, {
      headers: { 'User-Agent': this.userAgent },
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
