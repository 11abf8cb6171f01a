/**
 * Batches Loki entries and pushes them (`POST {url}/loki/api/v1/push`,
 * JSON push format) as Incus's loki driver does: a batch goes out when it
 * would pass 10 KiB or is a second old; 429s, 5xxs and connection errors
 * are retried (3 tries, 10 s apart), other failures dropped. One push at
 * a time, in order.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LokiConfig } from './config';
import type { LabelSet, LokiEntry } from './entry';

export interface PusherTiming {
  batchBytes: number;
  batchWaitMs: number;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

export const INCUS_TIMING: PusherTiming = { batchBytes: 10 * 1024, batchWaitMs: 1000, retries: 3, retryDelayMs: 10_000, timeoutMs: 10_000 };

const labelKey = (l: LabelSet): string =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}=${JSON.stringify(l[k])}`)
    .join(',');

/** Streams of one batch, entries grouped by their label set, in arrival order. */
class Batch {
  readonly streams = new Map<string, { stream: LabelSet; values: [string, string][] }>();
  bytes = 0;
  readonly createdAt = Date.now();

  add(e: LokiEntry): void {
    this.bytes += Buffer.byteLength(e.line);
    const key = labelKey(e.labels);
    const s = this.streams.get(key);
    if (s) s.values.push([e.ts, e.line]);
    else this.streams.set(key, { stream: e.labels, values: [[e.ts, e.line]] });
  }

  body(): string {
    return JSON.stringify({ streams: [...this.streams.values()] });
  }
}

export class LokiPusher {
  private batch: Batch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly cfg: LokiConfig,
    private readonly timing: PusherTiming = INCUS_TIMING,
  ) {}

  push(e: LokiEntry): void {
    if (this.stopped) return;
    if (this.batch && this.batch.bytes + Buffer.byteLength(e.line) > this.timing.batchBytes) this.flush();
    if (!this.batch) {
      this.batch = new Batch();
      this.timer = setTimeout(() => this.flush(), this.timing.batchWaitMs);
      this.timer.unref();
    }
    this.batch.add(e);
  }

  /** Queues the current batch for sending. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const b = this.batch;
    this.batch = null;
    if (!b || b.streams.size === 0) return;
    const body = b.body();
    this.sending = this.sending.then(() => this.sendWithRetry(body));
  }

  /** Sends what is pending, then stops taking entries (retries are cut short). */
  async stop(): Promise<void> {
    this.flush();
    this.stopped = true;
    await this.sending;
  }

  private async sendWithRetry(body: string): Promise<void> {
    for (let i = 0; i < this.timing.retries; i++) {
      const status = await this.send(body);
      if (status !== null && status >= 200 && status < 300) return;
      // Only 429s, 5xxs and connection-level errors are worth another try.
      if (status !== null && status !== 429 && Math.floor(status / 100) !== 5) return;
      if (this.stopped || i === this.timing.retries - 1) return;
      await new Promise((r) => setTimeout(r, this.timing.retryDelayMs).unref());
    }
  }

  /** One POST; resolves with the status, or null when the connection failed. */
  private send(body: string): Promise<number | null> {
    const url = new URL(`${this.cfg.url}/loki/api/v1/push`);
    const headers: Record<string, string | number> = { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) };
    if (this.cfg.username && this.cfg.password) headers.Authorization = `Basic ${Buffer.from(`${this.cfg.username}:${this.cfg.password}`).toString('base64')}`;
    const opts = { method: 'POST', headers, timeout: this.timing.timeoutMs, ...(this.cfg.caCert ? { ca: this.cfg.caCert } : {}) };
    return new Promise((resolve) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, opts, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? null));
        res.on('error', () => resolve(null));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(null));
      req.end(body);
    });
  }
}
