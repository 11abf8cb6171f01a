/**
 * Snapshots of custom volumes: the driver's read-only snapshots, recorded
 * as volume rows named `<volume>/<snapshot>` (Incus's naming for volume
 * snapshots) carrying the volume's config at the time; restore and
 * `expires_at` kept in the row's `volatile.expires_at`.
 */
import type { StorageVolumeSnapshot } from '../../api/storage-volume';
import type { Db } from '../db';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { conflict, notFound } from '../errors';
import { parseDuration } from '../instance/config/units';
import { validateVolumeSnapshotName } from '../names';
import type { VolumeType } from './interface';
import type { StoragePools } from './pools';
import { volumeDiskName } from './volume-names';

/** Go's zero time: a snapshot that never expires. */
const NO_EXPIRY = '0001-01-01T00:00:00Z';
export const EXPIRES = 'volatile.expires_at';

/** A snapshot row (`<volume>/<snapshot>`) as the API shows it, its expiry out of the config. */
export function volumeSnapshotToApi(s: VolumeRecord): StorageVolumeSnapshot {
  const config = { ...s.config };
  const expires = config[EXPIRES] ?? NO_EXPIRY;
  delete config[EXPIRES];
  return { name: s.name.split('/')[1]!, config, description: s.description, content_type: s.contentType, created_at: s.createdAt, expires_at: expires };
}

export class VolumeSnapshots {
  constructor(
    private readonly db: Db,
    private readonly pools: StoragePools,
  ) {}

  async list(pool: PoolRecord, v: VolumeRecord): Promise<VolumeRecord[]> {
    return (await this.db.pools.volumes(pool.name)).filter((s) => s.project === v.project && s.type === v.type && s.name.startsWith(`${v.name}/`));
  }

  async get(pool: PoolRecord, v: VolumeRecord, snap: string): Promise<VolumeRecord> {
    const s = await this.db.pools.volume(pool.name, v.project, v.type, `${v.name}/${snap}`);
    if (!s) throw notFound('Storage volume snapshot not found');
    return s;
  }

  toApi(s: VolumeRecord): StorageVolumeSnapshot {
    return volumeSnapshotToApi(s);
  }

  /** Takes a snapshot: named by the request, else by `snapshots.pattern` (default snap%d) with the next free index. */
  async create(pool: PoolRecord, v: VolumeRecord, name: string | undefined, expiresAt?: string): Promise<VolumeRecord> {
    const taken = new Set((await this.list(pool,v)).map((s) => s.name.split('/')[1]));
    if (!name) {
      const pattern = v.config['snapshots.pattern'] || 'snap%d';
      let i = 0;
      if (pattern.includes('%d')) while (taken.has(pattern.replace('%d', String(i)))) i++;
      name = pattern.replace('%d', String(i));
    }
    validateVolumeSnapshotName(name);
    if (taken.has(name)) throw conflict(`Snapshot "${name}" already exists`);
    let expires = expiresAt || NO_EXPIRY;
    if (!expiresAt && v.config['snapshots.expiry']) {
      const secs = parseDuration(v.config['snapshots.expiry']);
      if (secs) expires = new Date(Date.now() + secs * 1000).toISOString();
    }
    const sd = this.pools.driver(pool);
    const spec = this.pools.spec(pool);
    await sd.createSnapshot(spec, v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), name);
    try {
      return this.db.transaction((tx) =>
        tx.pools.createVolume({
          pool: pool.name,
          project: v.project,
          name: `${v.name}/${name}`,
          type: v.type,
          contentType: v.contentType,
          description: v.description,
          config: { ...v.config, [EXPIRES]: expires },
          createdAt: new Date().toISOString(),
        }),
      );
    } catch (err) {
      await sd.deleteSnapshot(spec, v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), name).catch(() => undefined);
      throw err;
    }
  }

  async delete(pool: PoolRecord, v: VolumeRecord, snap: string): Promise<void> {
    const s = await this.get(pool,v,snap);
    await this.pools.driver(pool).deleteSnapshot(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), snap);
    await this.db.transaction((tx) => tx.pools.deleteVolume(s.id));
  }

  async rename(pool: PoolRecord, v: VolumeRecord, snap: string, to: string): Promise<void> {
    validateVolumeSnapshotName(to);
    const s = await this.get(pool,v,snap);
    if (await this.db.pools.volume(pool.name,v.project,v.type,`${v.name}/${to}`)) throw conflict(`Snapshot "${to}" already exists`);
    const sd = this.pools.driver(pool);
    await sd.renameSnapshot(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), snap, to);
    try {
      await this.db.transaction((tx) => tx.pools.renameVolume(s.id, `${v.name}/${to}`));
    } catch (err) {
      await sd.renameSnapshot(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), to, snap);
      throw err;
    }
  }

  /** Description and expiry of a snapshot (PUT/PATCH). */
  async update(pool: PoolRecord, v: VolumeRecord, snap: string, description: string, expiresAt?: string): Promise<void> {
    const s = await this.get(pool, v, snap);
    const config = { ...s.config };
    if (expiresAt !== undefined) config[EXPIRES] = expiresAt || NO_EXPIRY;
    await this.db.pools.updateVolume({ ...s, description, config });
  }

  /** The volume's content and config become the snapshot's again. */
  async restore(pool: PoolRecord, v: VolumeRecord, snap: string): Promise<void> {
    const s = await this.get(pool,v,snap);
    await this.pools.driver(pool).restoreSnapshot(this.pools.spec(pool), v.type as VolumeType, volumeDiskName(v.type as VolumeType, v.project, v.name), snap);
    const config = { ...s.config };
    delete config[EXPIRES];
    await this.db.transaction((tx) => tx.pools.updateVolume({ ...v, config }));
  }

  /** Deletes every snapshot of the volume (before the volume goes). */
  async deleteAll(pool: PoolRecord, v: VolumeRecord): Promise<void> {
    for (const s of await this.list(pool,v)) await this.delete(pool, v, s.name.split('/')[1]!);
  }
}
