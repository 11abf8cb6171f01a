/**
 * Custom volume backups: a row per backup and its tarball under
 * `$INCUS_DIR/backups/custom/<pool>/<project>_<volume>/<backup>` (as Incus:
 * the folder follows a volume rename and goes with the volume). Plan (checks
 * before the operation), create, rename, delete, and pruning of expired ones.
 */
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupIndex } from '../../api/instance-backup';
import type { StorageVolumeBackup, StorageVolumeBackupsPost } from '../../api/storage-volume-backup';
import type { Db } from '../db';
import { NO_EXPIRY } from '../db/snapshots';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import type { VolumeBackupRecord } from '../db/volume-backups';
import { badRequest, conflict, notFound } from '../errors';
import type { EventBus } from '../operations/event-bus';
import { optimizedFiles, optimizedFor } from '../instance/backup-optimized';
import { checkBackupRequest, VOLUME_PARTS, writeBackupTarball } from '../instance/backup-tarball';
import { childPath, validateBackupName } from '../names';
import { allowBackupCreation } from '../projects/permissions';
import { projectSuffix } from '../projects/used-by';
import type { StoragePools } from './pools';
import { volumeDiskName } from './volume-names';
import { volumeSnapshotToApi } from './volume-snapshots';
import type { StorageVolumes } from './volumes';

/** A validated create request. */
export interface VolumeBackupPlan {
  name: string;
  expiresAt: string;
  volumeOnly: boolean;
  compression: string;
  /** Asked for; made only where the pool's driver can (see optimizedFor). */
  optimized: boolean;
}

/** The URL of one backup, as lifecycle events and lists give it. */
export function volumeBackupUrl(v: Pick<VolumeRecord, 'pool' | 'project' | 'name'>, backup: string): string {
  return `/1.0/storage-pools/${v.pool}/volumes/custom/${v.name}/backups/${encodeURIComponent(backup)}${projectSuffix(v.project)}`;
}

export class VolumeBackups {
  constructor(
    private readonly db: Db,
    private readonly pools: StoragePools,
    private readonly vols: StorageVolumes,
    private readonly events: EventBus,
    private readonly varDir: string,
  ) {}

  /** Folder of one volume's backup tarballs. */
  dir(v: Pick<VolumeRecord, 'pool' | 'project' | 'name'>): string {
    return join(this.varDir, 'backups', 'custom', v.pool, volumeDiskName('custom', v.project, v.name));
  }

  path(v: Pick<VolumeRecord, 'pool' | 'project' | 'name'>, b: Pick<VolumeBackupRecord, 'name'>): string {
    return childPath(this.dir(v), b.name);
  }

  async list(v: VolumeRecord): Promise<VolumeBackupRecord[]> {
    return this.db.volumeBackups.list(v.id);
  }

  async get(v: VolumeRecord, name: string): Promise<VolumeBackupRecord> {
    const b = await this.db.volumeBackups.get(v.id, name);
    if (!b) throw notFound('Storage volume backup not found');
    return b;
  }

  toApi(b: VolumeBackupRecord): StorageVolumeBackup {
    return { name: b.name, created_at: b.createdAt, expires_at: b.expiresAt, volume_only: b.volumeOnly, optimized_storage: b.optimizedStorage };
  }

  /** Checks a create request before its operation starts (400, 409). */
  async plan(v: VolumeRecord, req: StorageVolumeBackupsPost): Promise<VolumeBackupPlan> {
    await allowBackupCreation(this.db, v.project);
    if (v.contentType !== 'filesystem') throw badRequest(`Backups of ${v.contentType} volumes are not supported on this server`);
    const { name, expiresAt, compression } = checkBackupRequest(req, new Set((await this.list(v)).map((b) => b.name)));
    return { name, expiresAt, volumeOnly: req.volume_only === true, compression, optimized: req.optimized_storage === true };
  }

  /** What `backup/index.yaml` says about the volume (Incus's backup.Info with config.volume). */
  async index(pool: PoolRecord, v: VolumeRecord, snaps: VolumeRecord[], optimized: boolean): Promise<BackupIndex> {
    return {
      name: v.name,
      backend: pool.driver,
      pool: pool.name,
      snapshots: snaps.map((s) => s.name.split('/')[1]!),
      optimized,
      optimized_header: optimized,
      type: 'custom',
      config: {
        pool: await this.pools.toApi(pool),
        volume: { ...(await this.vols.toApi(v)), used_by: [] },
        volume_snapshots: snaps.map(volumeSnapshotToApi),
      },
    };
  }

  /** Writes the tarball, then the row (a failed write leaves neither). */
  async create(pool: PoolRecord, v: VolumeRecord, p: VolumeBackupPlan): Promise<VolumeBackupRecord> {
    const sd = this.pools.driver(pool);
    const spec = this.pools.spec(pool);
    const disk = volumeDiskName('custom', v.project, v.name);
    const snaps = p.volumeOnly ? [] : await this.vols.snapshots.list(pool, v);
    const names = snaps.map((s) => s.name.split('/')[1]!);
    const optimized = optimizedFor(p.optimized, sd, v.contentType);
    await mkdir(this.dir(v), { recursive: true, mode: 0o700 });
    const out = this.path(v, p);
    try {
      await writeBackupTarball(out, {
        index: await this.index(pool, v, snaps, optimized),
        volumePath: sd.volumePath(spec, 'custom', disk),
        snapshots: names.map((name) => ({ name, path: sd.snapshotPath(spec, 'custom', disk, name) })),
        compression: p.compression,
        parts: VOLUME_PARTS,
        optimized: optimized ? (sink) => sd.backupVolume!(spec, 'custom', disk, names, optimizedFiles(VOLUME_PARTS), sink) : undefined,
      });
      const b = await this.db.transaction((tx) =>
        tx.volumeBackups.create({
          volumeId: v.id,
          name: p.name,
          createdAt: new Date().toISOString(),
          expiresAt: p.expiresAt || NO_EXPIRY,
          volumeOnly: p.volumeOnly,
          optimizedStorage: optimized,
          compression: p.compression,
        }),
      );
      this.events.lifecycle('storage-volume-backup-created', volumeBackupUrl(v, p.name), v.project);
      return b;
    } catch (err) {
      await rm(out, { force: true });
      await this.dropEmptyDir(v);
      if (String(err).includes('UNIQUE')) throw conflict(`Backup "${p.name}" already exists`);
      throw err;
    }
  }

  async rename(v: VolumeRecord, b: VolumeBackupRecord, newName: string): Promise<void> {
    validateBackupName(newName);
    if (await this.db.volumeBackups.get(v.id, newName)) throw conflict(`Backup "${newName}" already exists`);
    await rename(this.path(v, b), this.path(v, { name: newName }));
    try {
      await this.db.transaction((tx) => tx.volumeBackups.rename(b.id, newName));
    } catch (err) {
      await rename(this.path(v, { name: newName }), this.path(v, b));
      throw err;
    }
    this.events.lifecycle('storage-volume-backup-renamed', volumeBackupUrl(v, newName), v.project, { old_name: b.name });
  }

  async delete(v: VolumeRecord, b: VolumeBackupRecord): Promise<void> {
    await rm(this.path(v, b), { force: true });
    await this.db.transaction((tx) => tx.volumeBackups.delete(b.id));
    await this.dropEmptyDir(v);
    this.events.lifecycle('storage-volume-backup-deleted', volumeBackupUrl(v, b.name), v.project);
  }

  /**
   * The folder follows a renamed volume (rows are by volume id and need
   * nothing); a volume moved to another pool is a new row, its backups gone.
   */
  async volumeRenamed(from: VolumeRecord, to: VolumeRecord): Promise<void> {
    if (from.pool !== to.pool) return this.volumeDeleted(from);
    const [a, b] = [this.dir(from), this.dir(to)];
    if (a === b) return;
    await mkdir(join(b, '..'), { recursive: true, mode: 0o700 });
    await rename(a, b).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Removes every backup file of a deleted volume (rows go with the volume's row). */
  async volumeDeleted(v: VolumeRecord): Promise<void> {
    await rm(this.dir(v), { recursive: true, force: true });
  }

  /** Deletes the backups expired by `now`; a failure is reported and the rest go on. */
  async pruneExpired(now: Date, warn: (msg: string, ctx: Record<string, string>) => void): Promise<void> {
    for (const e of await this.db.volumeBackups.expired(now.toISOString())) {
      try {
        const v = await this.db.pools.volume(e.pool, e.project, 'custom', e.volume);
        if (!v) continue;
        await this.delete(v, await this.get(v, e.backup));
      } catch (err) {
        warn('Pruning expired volume backup failed', { pool: e.pool, volume: e.volume, backup: e.backup, err: (err as Error).message });
      }
    }
  }

  /** As Incus, a volume without backups keeps no folder. */
  private async dropEmptyDir(v: VolumeRecord): Promise<void> {
    await rmdir(this.dir(v)).catch(() => undefined);
  }
}
