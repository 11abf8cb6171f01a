/**
 * The daemon's image housekeeping, on timers: refresh auto-updating images
 * every `images.auto_update_interval` hours, and delete cached images not
 * used for `images.remote_cache_expiry` days. Each runs as an operation, as
 * in Incus; timers are re-armed when the server config changes and never
 * keep the process alive.
 */
import type { Db } from '../../db';
import type { Logger } from '../../log';
import type { EventBus } from '../../operations/event-bus';
import type { OperationRegistry } from '../../operations/registry';
import type { ImageStore } from '../store';
import { imageCacheConfig } from './config';
import type { ImageDownloader } from './downloader';
import { refreshImage } from './refresh';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Never run a task more often than this, whatever the config says. */
const MIN_PERIOD_MS = 1000;
/** Expiry is checked at least daily, as Incus prunes daily. */
const MAX_PRUNE_PERIOD_MS = DAY_MS;

export interface ImageTaskDeps {
  db: Db;
  images: ImageStore;
  downloader: ImageDownloader;
  events: EventBus;
  ops: OperationRegistry;
  log: Logger;
}

export class ImageTasks {
  private updateTimer?: NodeJS.Timeout;
  private pruneTimer?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private updating: Promise<void> | null = null;
  /** Bumped by each arm and by stop: an arm whose config read was overtaken sets no timers. */
  private generation = 0;

  constructor(private readonly d: ImageTaskDeps) {}

  async start(): Promise<void> {
    this.unsubscribe = this.d.events.subscribe(['lifecycle'], null, (ev) => {
      if ((ev.metadata as { action?: string }).action !== 'config-updated') return;
      this.arm().catch((err: unknown) => this.d.log.error('Failed to re-arm the image tasks', { err: (err as Error).message }));
    });
    await this.arm();
  }

  stop(): void {
    this.generation++;
    clearInterval(this.updateTimer);
    clearInterval(this.pruneTimer);
    this.unsubscribe?.();
  }

  private async arm(): Promise<void> {
    const generation = ++this.generation;
    const cfg = imageCacheConfig(await this.d.db.config.all());
    if (generation !== this.generation) return;
    clearInterval(this.updateTimer);
    clearInterval(this.pruneTimer);
    this.updateTimer = this.pruneTimer = undefined;
    if (cfg.autoUpdateIntervalHours > 0) {
      const period = Math.max(MIN_PERIOD_MS, cfg.autoUpdateIntervalHours * HOUR_MS);
      this.updateTimer = setInterval(() => void this.autoUpdate(), period).unref();
    }
    if (cfg.remoteCacheExpiryDays > 0) {
      const period = Math.min(MAX_PRUNE_PERIOD_MS, Math.max(MIN_PERIOD_MS, cfg.remoteCacheExpiryDays * DAY_MS));
      this.pruneTimer = setInterval(() => void this.prune(), period).unref();
    }
  }

  /** Refreshes every auto-updating image (one run at a time); failures are logged and skipped. */
  autoUpdate(): Promise<void> {
    this.updating ??= (async () => {
      const op = this.d.ops.start({
        description: 'Updating images',
        run: async () => {
          for (const ref of await this.d.db.imageSources.autoUpdating()) {
            const rec = await this.d.db.images.findByPrefix(ref.project, ref.fingerprint);
            if (!rec || rec === 'ambiguous' || !(await this.d.db.imageSources.get(rec.id))) continue;
            try {
              await refreshImage(this.d, rec);
            } catch (err) {
              this.d.log.error('Failed to update the image', { fingerprint: rec.fingerprint, err: (err as Error).message });
            }
          }
        },
      });
      await this.d.ops.wait(op.id, -1);
    })().finally(() => (this.updating = null));
    return this.updating;
  }

  /** Deletes cached images whose last use (or arrival) is older than the expiry. */
  async prune(): Promise<void> {
    const days = imageCacheConfig(await this.d.db.config.all()).remoteCacheExpiryDays;
    if (days <= 0) return;
    const limit = Date.now() - days * DAY_MS;
    const expired = (await this.d.db.imageSources.cached()).filter((ref) => {
      const used = Date.parse(ref.lastUsedAt.startsWith('0001-') ? ref.uploadedAt : ref.lastUsedAt);
      return Number.isFinite(used) && used < limit;
    });
    if (expired.length === 0) return;
    const op = this.d.ops.start({
      description: 'Cleaning up expired images',
      run: async () => {
        for (const ref of expired) {
          const rec = await this.d.db.images.findByPrefix(ref.project, ref.fingerprint);
          if (!rec || rec === 'ambiguous') continue;
          await this.d.images.delete(rec);
          this.d.events.lifecycle('image-deleted', `/1.0/images/${rec.fingerprint}`, rec.project);
          this.d.log.info('Deleted expired cached image', { fingerprint: rec.fingerprint });
        }
      },
    });
    await this.d.ops.wait(op.id, -1);
  }
}
