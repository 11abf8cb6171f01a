/** Hand-written HTTP over the daemon's socket: for requests no HTTP client would send, and for stalling mid-request. */
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
  json: Record<string, unknown> | null;
}

/** Sends `text` as is and reads until the server closes or `timeoutMs` passes. */
export function exchange(socketPath: string, text: string | Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (b: Buffer) => chunks.push(b));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks).toString();
      const split = all.indexOf('\r\n\r\n');
      if (split < 0) {
        reject(new Error(`no HTTP answer to ${JSON.stringify(String(text).slice(0, 80))}: ${JSON.stringify(all.slice(0, 200))}`));
        return;
      }
      const head = all.slice(0, split);
      const body = all.slice(split + 4);
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // Left null: the caller's envelope check fails.
      }
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body, json });
    });
    s.write(text);
  });
}

/** Opens a connection, writes `text`, and leaves it there; resolves once written. */
export function stall(socketPath: string, text: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath, () => s.write(text, () => resolve(s)));
    s.on('error', (e) => reject(e));
  });
}

/** Open descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
