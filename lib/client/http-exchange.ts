/**
 * One HTTP exchange on an already-built node:http(s) request: sends the
 * body (buffer with Content-Length, stream chunked) and reads the whole
 * response. Shared by the Unix socket and HTTPS transports.
 */
import type * as http from 'node:http';
import type { TransportRequest, TransportResponse } from './transport';

/** Headers for `req` with a Content-Length when the body is a buffer or string. */
export function requestHeaders(req: TransportRequest, base: Record<string, string>): Record<string, string | number> {
  const headers: Record<string, string | number> = { ...base, ...req.headers };
  const body = req.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) headers['Content-Length'] = Buffer.byteLength(body);
  return headers;
}

/**
 * Sends `req`'s body on `clientReq` and resolves to the full response;
 * connection errors go through `mapError` first.
 */
export function exchange(
  clientReq: http.ClientRequest,
  req: TransportRequest,
  mapError: (err: NodeJS.ErrnoException) => Error,
): Promise<TransportResponse> {
  return new Promise((resolve, reject) => {
    clientReq.on('error', (err: NodeJS.ErrnoException) => reject(mapError(err)));
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
    const body = req.body;
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
