/** HTTP over the daemon's Unix socket (node:http with a keep-alive agent). */
import * as http from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { ConnectionError } from './errors';
import { exchange, requestHeaders } from './http-exchange';
import type { StreamRequest, Transport, TransportRequest, TransportResponse } from './transport';

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
    const options: http.RequestOptions & { servername: string } = {
      socketPath: this.socketPath,
      agent: this.agent,
      method: req.method,
      path: req.path,
      headers: requestHeaders(req, { Host: 'unix.socket', 'User-Agent': this.userAgent }),
      signal: req.signal,
      // A set servername spares the agent an IPv6 regex (milliseconds at start-up).
      servername: '',
    };
    return exchange(http.request(options), req, (err) => connectionErrorFor(err, this.socketPath));
  }

  openRequest(method: string, path: string, headers: Record<string, string | number>, agent = true): StreamRequest {
    const req = http.request({
      socketPath: this.socketPath,
      ...(agent ? { agent: this.agent } : {}),
      method,
      path,
      headers: { Host: 'unix.socket', 'User-Agent': this.userAgent, ...headers },
    });
    return { req, mapError: (err) => connectionErrorFor(err, this.socketPath) };
  }

  openWebSocket(path: string, connection?: Duplex): WebSocket {
    // Loaded here so that commands without websockets never pay for `ws`.
    const WS = require('ws') as typeof WebSocket;
    return new WS(`ws+unix://${this.socketPath}:${path}`, {
      headers: { 'User-Agent': this.userAgent },
      ...(connection ? { createConnection: () => connection } : {}),
    });
  }

  preconnect(): Duplex {
    return connect(this.socketPath);
  }

  close(): void {
    this.agent.destroy();
  }
}
