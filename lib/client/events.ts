/** The `/1.0/events` websocket as listeners plus an async iterator. */
import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { Event } from '../api/event';
import { parseEnvelope } from './envelope';
import { ApiError } from './errors';

type Listener = (event: Event) => void;

/**
 * A live event subscription. Wait for {@link ready} before relying on
 * delivery; {@link close} ends both the listeners and the iterator.
 */
export class EventStream implements AsyncIterable<Event> {
  /** Resolves once the websocket is open; rejects if the server refused it. */
  readonly ready: Promise<void>;
  private readonly listeners = new Set<Listener>();
  private readonly queue: Event[] = [];
  private waiter: ((r: IteratorResult<Event>) => void) | null = null;
  private failWaiter: ((err: Error) => void) | null = null;
  private ended = false;
  private error: Error | null = null;

  constructor(private readonly ws: WebSocket, what: string) {
    this.ready = new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.on('unexpected-response', (_req: unknown, res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let err: Error;
          try {
            parseEnvelope(
              { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) },
              what,
            );
            err = new ApiError(res.statusCode ?? 0, `Websocket upgrade refused by ${what}`);
          } catch (e) {
            err = e as Error;
          }
          this.finish(err);
          reject(err);
          ws.terminate();
        });
      });
      ws.on('error', (err: Error) => {
        this.finish(err);
        reject(err);
      });
    });
    // Callers that only iterate should not see an unhandled rejection here.
    this.ready.catch(() => undefined);
    ws.on('message', (data: Buffer) => this.deliver(data));
    ws.on('close', () => this.finish(null));
  }

  /** Calls `listener` for every event; returns a function that removes it. */
  on(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Closes the websocket. */
  close(): void {
    this.finish(null);
    this.ws.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<Event> {
    return {
      next: () => {
        const queued = this.queue.shift();
        if (queued) return Promise.resolve({ value: queued, done: false });
        if (this.error) return Promise.reject(this.error);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.failWaiter = reject;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private deliver(data: Buffer): void {
    let event: Event;
    try {
      event = JSON.parse(data.toString('utf8')) as Event;
    } catch {
      return; // Not an event: nothing to hand out.
    }
    for (const l of this.listeners) l(event);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failWaiter = null;
      w({ value: event, done: false });
    } else {
      this.queue.push(event);
    }
  }

  private finish(err: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.error = err;
    if (err && this.failWaiter) this.failWaiter(err);
    else if (this.waiter) this.waiter({ value: undefined, done: true });
    this.waiter = this.failWaiter = null;
  }
}
