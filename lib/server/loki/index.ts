/**
 * Forwards the daemon's events to Loki while `loki.api.url` is set: the
 * pusher is rebuilt whenever the server config changes.
 */
import type { Db } from '../db';
import type { EventBus } from '../operations/event-bus';
import { lokiConfigOf } from './config';
import { toEntry } from './entry';
import { LokiPusher, INCUS_TIMING, type PusherTiming } from './pusher';

export class LokiForwarder {
  private pusher: LokiPusher | null = null;
  private cfgKey = '';
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
    private readonly timing: PusherTiming = INCUS_TIMING,
  ) {}

  /** Reads the config and follows its changes. */
  async start(): Promise<void> {
    await this.reload();
    this.unsubscribe = this.events.subscribe(['lifecycle', 'logging'], null, (ev) => {
      const md = ev.metadata as { action?: string };
      if (ev.type === 'lifecycle' && md.action === 'config-updated') this.later(() => this.reload());
      // While a reload is pending, events wait behind it (the config change itself goes out under the new config).
      if (this.queued > 0) this.later(() => this.forward(ev));
      else this.forward(ev);
    });
  }

  private current: ReturnType<typeof lokiConfigOf> = null;
  /** Reloads and the events behind them, in event order. */
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  private later(fn: () => Promise<void> | void): void {
    this.queued++;
    this.queue = this.queue
      .then(fn)
      // A failed config read keeps the previous config.
      .catch(() => undefined)
      .finally(() => this.queued--);
  }

  private forward(ev: Parameters<typeof toEntry>[1]): void {
    const cfg = this.current;
    if (!cfg || !this.pusher) return;
    const entry = toEntry(cfg, ev);
    if (entry) this.pusher.push(entry);
  }

  private async reload(): Promise<void> {
    const cfg = lokiConfigOf(await this.db.config.all());
    const key = JSON.stringify(cfg);
    if (key === this.cfgKey) return;
    this.cfgKey = key;
    void this.pusher?.stop();
    this.current = cfg;
    this.pusher = cfg ? new LokiPusher(cfg, this.timing) : null;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.queue;
    await this.pusher?.stop();
  }
}
