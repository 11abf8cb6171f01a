/**
 * GET of a large body (a backup or image export) as a raw stream, so the
 * bytes go to a file without being held in memory; a non-200 answer
 * becomes an ApiError carrying the server's message.
 */
import type { IncomingMessage } from 'node:http';
import type { IncusClient } from './client';
import { ApiError } from './errors';

/** The 200 response to GET `path`; `what` names the download in the error for transports without streaming. */
export async function openDownload(client: IncusClient, path: string, what: string): Promise<IncomingMessage> {
  const t = client.transport;
  // Any streaming transport (the Unix socket, HTTPS) will do.
  if (!t.openRequest) throw new ApiError(0, `${what} is not supported over ${t.address}`);
  const { req, mapError } = t.openRequest('GET', path, {});
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', (err: NodeJS.ErrnoException) => reject(mapError(err)));
    req.end();
  });
  if (res.statusCode === 200) return res;
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  let msg = `HTTP ${res.statusCode}`;
  try {
    msg = (JSON.parse(Buffer.concat(chunks).toString()) as { error?: string }).error || msg;
  } catch {
    // Not an envelope.
  }
  throw new ApiError(res.statusCode ?? 0, msg);
}
