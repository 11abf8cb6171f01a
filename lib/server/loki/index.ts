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
  start(): void {
    this.reload();
    this.unsubscribe = this.events.subscribe(['lifecycle', 'logging'], null, (ev) => {
      const md = ev.metadata as { action?: string };
      if (ev.type === 'lifecycle' && md.action === 'config-updated') this.reload();
      const cfg = this.current;
      if (!cfg || !this.pusher) return;
      const entry = toEntry(cfg, ev);
      if (entry) this.pusher.push(entry);
    });
  }

  private current: ReturnType<typeof lokiConfigOf> = null;

  private reload(): void {
    const cfg = lokiConfigOf(this.db.config.all());
    const key = JSON.stringify(cfg);
    if (key === this.cfgKey) return;
    this.cfgKey = key;
    void this.pusher?.stop();
    this.current = cfg;
    this.pusher = cfg ? new LokiPusher(cfg, this.timing) : null;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.pusher?.stop();
  }
}
