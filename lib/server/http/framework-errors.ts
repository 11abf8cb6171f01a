/**
 * Errors that fastify or Node's HTTP parser raise before any route runs (a
 * URL that does not decode, a path parameter over the length limit, a bad
 * Content-Length, headers too large), answered in Incus's error envelope
 * rather than in fastify's own `{"statusCode":...}` shape.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorResponse } from '../response';

/** fastify's `frameworkErrors` option: router failures, always the caller's fault. */
export function frameworkErrors(err: Error & { code?: string }, _req: FastifyRequest, reply: FastifyReply): void {
  const msg = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'Name too long' : err.code === 'FST_ERR_BAD_URL' ? 'Invalid URL encoding' : err.message;
  void reply.code(400).send(errorResponse(400, msg));
}

/** The status and message for a parser-level client error (what Node itself would answer). */
function describe(err: Error & { code?: string }): [number, string] {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request timed out'];
  if (err.code === 'HPE_HEADER_OVERFLOW') return [431, 'Request headers too large'];
  if (err.code === 'HPE_INVALID_CONTENT_LENGTH' || err.code === 'HPE_UNEXPECTED_CONTENT_LENGTH') return [400, 'Invalid Content-Length'];
  if (err.code === 'HPE_INVALID_TRANSFER_ENCODING') return [400, 'Invalid Transfer-Encoding'];
  return [400, 'Malformed HTTP request'];
}

/** fastify's `clientErrorHandler` option: answers once if the socket can still take it, then closes. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const [status, msg] = describe(err);
    const body = JSON.stringify(errorResponse(status, msg));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
