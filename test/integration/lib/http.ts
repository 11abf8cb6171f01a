/** Raw HTTP over the daemon's Unix socket, for requests a typed client would refuse to send. */
import { request } from 'node:http';

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export function rawRequest(socketPath: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as Record<string, unknown> });
        } catch (err) {
          reject(new Error(`Bad JSON from ${method} ${path}: ${text} (${String(err)})`));
        }
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
