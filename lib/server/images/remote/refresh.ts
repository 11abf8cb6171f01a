/**
 * Refreshing an image from its source, as Incus's autoUpdateImage does:
 * download what the source's alias names now; when that is a new image,
 * it takes over the old one's aliases, cached flag and last use, and the
 * old one is deleted.
 */
import type { Db } from '../../db';
import type { ImageRecord } from '../../db/images';
import type { ImageSourceRecord } from '../../db/image-sources';
import { badRequest } from '../../errors';
import type { EventBus } from '../../operations/event-bus';
import type { ImageStore } from '../store';
import type { ImageDownloader } from './downloader';

export interface RefreshDeps {
  db: Db;
  images: ImageStore;
  downloader: ImageDownloader;
  events: EventBus;
}

/** The source of an image, or a 400 when it has none (it was not downloaded by alias). */
export async function refreshSource(db: Db, rec: ImageRecord): Promise<ImageSourceRecord> {
  const src = await db.imageSources.get(rec.id);
  if (!src) throw badRequest(`Image "${rec.fingerprint}" has no remote source to refresh from`);
  return src;
}

/** Refreshes one image; resolves with the new record, or null when it was up to date. */
export async function refreshImage(
  d: RefreshDeps,
  rec: ImageRecord,
  opts: { signal?: AbortSignal; onProgress?: (md: Record<string, unknown>) => void } = {},
): Promise<ImageRecord | null> {
  const src = await refreshSource(d.db, rec);
  const { record: next } = await d.downloader.ensure(
    { server: src.server, protocol: src.protocol, alias: src.alias, certificate: src.certificate, image_type: rec.type },
    { project: rec.project, autoUpdate: true, public: rec.public, signal: opts.signal, onProgress: opts.onProgress },
  );
  if (next.fingerprint === rec.fingerprint) return null;
  await d.db.transaction(async (tx) => {
    await tx.imageSources.setCached(next.id, rec.cached, rec.lastUsedAt);
    await tx.imageSources.moveAliases(rec.id, next.id);
  });
  await d.images.delete(rec);
  d.events.lifecycle('image-refreshed', `/1.0/images/${rec.fingerprint}`, rec.project, { new_fingerprint: next.fingerprint });
  d.events.lifecycle('image-deleted', `/1.0/images/${rec.fingerprint}`, rec.project);
  return (await d.db.images.findByPrefix(rec.project, next.fingerprint)) as ImageRecord;
}
