/**
 * The seam between the API client and the wire: a Unix socket today, HTTPS
 * with client certificates later. Only request/response bytes and websocket
 * opening cross it; envelopes and operations are handled above it.
 */
import type { ClientRequest } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type WebSocket from 'ws';

/** Methods the Incus API uses. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One HTTP request as the client hands it to a transport. */
export interface TransportRequest {
  method: HttpMethod;
  /** Absolute path with query string, e.g. `/1.0/instances?recursion=1`. */
  path: string;
  headers?: Record<string, string>;
  /** A buffer/string is sent with a Content-Length; a stream is sent chunked. */
  body?: Buffer | string | Readable;
  signal?: AbortSignal;
}

/** A complete HTTP response (body read in full). */
export interface TransportResponse {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Moves requests to a daemon and back; see {@link UnixTransport}. */
export interface Transport {
  /** Human-readable address, e.g. `unix:/var/lib/incus/unix.socket`. */
  readonly address: string;
  /** Sends one request and reads the whole response body. */
  request(req: TransportRequest): Promise<TransportResponse>;
  /**
   * Opens a websocket to `path` (with query string), over `connection` when
   * one was started beforehand by {@link preconnect}.
   */
  openWebSocket(path: string, connection?: Duplex): WebSocket;
  /**
   * Starts a connection now, for a websocket whose path is not known yet
   * (an exec's streams, while its POST is in flight): the connect (and TLS
   * handshake, with the same checks) overlaps the wait instead of following it.
   * Undefined when starting early would not pay (nothing to resume yet).
   */
  preconnect?(): Duplex | undefined;
  /** Drops idle keep-alive connections. */
  close(): void;
  /**
   * A request not yet sent, for callers that stream both ways or upgrade
   * the connection (files, SFTP); errors on it go through `mapError`.
   */
  openRequest?(method: string, path: string, headers: Record<string, string | number>, agent?: boolean): StreamRequest;
}

/** What {@link Transport.openRequest} hands back. */
export interface StreamRequest {
  req: ClientRequest;
  /** The transport's wording for a connection failure. */
  mapError(err: NodeJS.ErrnoException): Error;
}
