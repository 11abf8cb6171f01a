/** Remote images: downloads (simplestreams and Incus), refresh and housekeeping, one-time secrets. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from '../../db';
import type { Logger } from '../../log';
import type { EventBus } from '../../operations/event-bus';
import type { OperationRegistry } from '../../operations/registry';
import type { ImageStore } from '../store';
import { ImageDownloader } from './downloader';
import { ImageSecrets } from './secrets';
import { ImageTasks } from './tasks';

export type { RemoteSource, EnsureOptions } from './downloader';
export { ImageDownloader } from './downloader';
export { ImageSecrets } from './secrets';
export { ImageTasks } from './tasks';
export { refreshImage, refreshSource } from './refresh';
export { imageCacheConfig, validateImageCacheKey } from './config';

/** What the daemon holds for remote images. */
export class ImageRemote {
  readonly downloader: ImageDownloader;
  readonly secrets: ImageSecrets;
  readonly tasks: ImageTasks;

  constructor(d: { db: Db; images: ImageStore; events: EventBus; ops: OperationRegistry; log: Logger }) {
    // Downloads a crash interrupted: nothing can be writing them yet (the API is not up).
    for (const name of readdirSync(d.images.dir)) {
      if (name.startsWith('download-')) rmSync(join(d.images.dir, name), { force: true });
    }
    this.downloader = new ImageDownloader(d);
    this.secrets = new ImageSecrets(d.ops);
    this.tasks = new ImageTasks({ ...d, downloader: this.downloader });
  }

  /** Starts the timers. */
  async start(): Promise<void> {
    await this.tasks.start();
  }

  /** Stops the timers and ends the secret tokens (before the daemon drains its operations). */
  stop(): void {
    this.tasks.stop();
    this.secrets.closeAll();
  }
}
