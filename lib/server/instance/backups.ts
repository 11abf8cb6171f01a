/**
 * Instance backups: a row per backup and its tarball under
 * `$INCUS_DIR/backups/instances/<instance id>/<backup>` (by id, so renames
 * of the instance need nothing). Create, list, rename, delete, export path.
 * Callers hold the instance lock for create.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceBackup, InstanceBackupsPost, BackupIndex } from '../../api/instance-backup';
import type { BackupRecord } from '../db/backups';
import type { InstanceRecord } from '../db/instances';
import type { Profile } from '../../api/profile';
import { NO_EXPIRY } from '../db/snapshots';
import { conflict, notFound, StatusError } from '../errors';
import { optimizedFiles, optimizedFor } from './backup-optimized';
import { checkBackupRequest, INSTANCE_PARTS, writeBackupTarball } from './backup-tarball';
import type { InstanceManager } from './manager';
import { allowBackupCreation } from '../projects/permissions';
import { snapshotToApi } from './snapshot-views';
import { childPath, validateBackupName } from '../names';
import { listContext, toInstance } from './views';
import { storageName } from '../storage/volume-names';
import { volumeSnapshotToApi } from '../storage/volume-snapshots';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import type { StorageVolumeSnapshot } from '../../api/storage-volume';

/** A validated create request. */
export interface BackupPlan {
  name: string;
  expiresAt: string;
  instanceOnly: boolean;
  compression: string;
  /** Asked for; made only where the pool's driver can (see optimizedFor). */
  optimized: boolean;
}

export class BackupManager {
  constructor(
    private readonly m: InstanceManager,
    private readonly varDir: string,
  ) {}

  /** Folder of one instance's backup tarballs. */
  dir(rec: Pick<InstanceRecord, 'id'>): string {
    return join(this.varDir, 'backups', 'instances', String(rec.id));
  }

  /** Where a backup's tarball lives. */
  path(rec: Pick<InstanceRecord, 'id'>, b: Pick<BackupRecord, 'name'>): string {
    return childPath(this.dir(rec), b.name);
  }

  async list(rec: InstanceRecord): Promise<BackupRecord[]> {
    return this.m.deps.db.backups.list(rec.id);
  }

  async get(rec: InstanceRecord, name: string): Promise<BackupRecord> {
    const b = await this.m.deps.db.backups.get(rec.id, name);
    if (!b) throw notFound('Instance backup not found');
    return b;
  }

  toApi(b: BackupRecord): InstanceBackup {
    return {
      name: b.name,
      created_at: b.createdAt,
      expires_at: b.expiresAt,
      instance_only: b.instanceOnly,
      optimized_storage: b.optimizedStorage,
    };
  }

  /** Checks a create request before its operation starts (400, 409). */
  async plan(rec: InstanceRecord, req: InstanceBackupsPost): Promise<BackupPlan> {
    await allowBackupCreation(this.m.deps.db, rec.project);
    const { name, expiresAt, compression } = checkBackupRequest(req, new Set((await this.list(rec)).map((b) => b.name)));
    return { name, expiresAt, instanceOnly: req.instance_only === true, compression, optimized: req.optimized_storage === true };
  }

  /** What `backup/index.yaml` says about the instance (`optimized`: the driver's streams, with its header). */
  async index(rec: InstanceRecord, snapshots: string[], optimized = false): Promise<BackupIndex> {
    const { db, pools, drivers } = this.m.deps;
    const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
    if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
    const pool = await pools.get(vol.pool);
    const [st] = await drivers.states([rec]);
    const snaps = (await db.snapshots.list(rec.id)).filter((s) => snapshots.includes(s.name));
    const ctx = await listContext(this.m, [rec], false);
    const profileProject = await this.m.profileProject(rec.project);
    const profiles: Profile[] = [];
    for (const p of rec.profiles) {
      const pr = await db.profiles.get(profileProject, p);
      if (pr) profiles.push({ name: pr.name, description: pr.description, config: pr.config, devices: pr.devices, project: pr.project, used_by: [] });
    }
    return {
      name: rec.name,
      backend: pool.driver,
      pool: pool.name,
      snapshots,
      optimized,
      optimized_header: optimized,
      type: rec.type,
      config: {
        container: toInstance(this.m, rec, st!, ctx),
        snapshots: snaps.map((s) => snapshotToApi(this.m, rec, s, ctx.profiles)),
        pool: await pools.toApi(pool),
        profiles,
        volume: {
          name: rec.name,
          type: rec.type,
          content_type: 'filesystem',
          description: vol.description,
          config: vol.config,
          created_at: vol.createdAt,
          location: 'none',
          project: rec.project,
          used_by: [],
        },
        volume_snapshots: await this.volumeSnapshots(pool, vol, snapshots),
      },
    };
  }

  /** The root volume's snapshot rows of the snapshots named, as index.yaml's volume_snapshots. */
  private async volumeSnapshots(pool: PoolRecord, vol: VolumeRecord, snapshots: string[]): Promise<StorageVolumeSnapshot[]> {
    const out: StorageVolumeSnapshot[] = [];
    for (const name of snapshots) {
      const row = await this.m.deps.db.pools.volume(pool.name, vol.project, vol.type, `${vol.name}/${name}`);
      if (row) out.push(volumeSnapshotToApi(row));
    }
    return out;
  }

  /** Writes the tarball, then the row (a failed write leaves neither). */
  async create(rec: InstanceRecord, p: BackupPlan): Promise<BackupRecord> {
    const { db, pools, events } = this.m.deps;
    const vol = await pools.volumeOf(rec.project, rec.type, rec.name);
    if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
    const pool = await pools.get(vol.pool);
    const sd = pools.driver(pool);
    const spec = pools.spec(pool);
    const snaps = p.instanceOnly ? [] : (await db.snapshots.list(rec.id)).map((s) => s.name);
    const disk = storageName(rec.project, rec.name);
    const optimized = optimizedFor(p.optimized, sd);
    await mkdir(this.dir(rec), { recursive: true, mode: 0o700 });
    const out = this.path(rec, p);
    await writeBackupTarball(out, {
      index: await this.index(rec, snaps, optimized),
      volumePath: sd.volumePath(spec, rec.type, disk),
      snapshots: snaps.map((name) => ({ name, path: sd.snapshotPath(spec, rec.type, disk, name) })),
      compression: p.compression,
      optimized: optimized ? (sink) => sd.backupVolume!(spec, rec.type, disk, snaps, optimizedFiles(INSTANCE_PARTS), sink) : undefined,
    });
    try {
      const b = await db.transaction((tx) =>
        tx.backups.create({
          instanceId: rec.id,
          name: p.name,
          createdAt: new Date().toISOString(),
          expiresAt: p.expiresAt || NO_EXPIRY,
          instanceOnly: p.instanceOnly,
          optimizedStorage: optimized,
          compression: p.compression,
        }),
      );
      events.lifecycle('instance-backup-created', `/1.0/instances/${rec.name}/backups/${p.name}`, rec.project);
      return b;
    } catch (err) {
      await rm(out, { force: true });
      if (String(err).includes('UNIQUE')) throw conflict(`Backup "${p.name}" already exists`);
      throw err;
    }
  }

  async rename(rec: InstanceRecord, b: BackupRecord, newName: string): Promise<void> {
    validateBackupName(newName);
    const { db, events } = this.m.deps;
    if (await db.backups.get(rec.id,newName)) throw conflict(`Backup "${newName}" already exists`);
    await rename(this.path(rec, b), this.path(rec, { name: newName }));
    try {
      await db.transaction((tx) => tx.backups.rename(b.id, newName));
    } catch (err) {
      await rename(this.path(rec, { name: newName }), this.path(rec, b));
      throw err;
    }
    events.lifecycle('instance-backup-renamed', `/1.0/instances/${rec.name}/backups/${newName}`, rec.project, { old_name: b.name });
  }

  async delete(rec: InstanceRecord, b: BackupRecord): Promise<void> {
    await rm(this.path(rec, b), { force: true });
    await this.m.deps.db.transaction((tx) => tx.backups.delete(b.id));
    this.m.deps.events.lifecycle('instance-backup-deleted', `/1.0/instances/${rec.name}/backups/${b.name}`, rec.project);
  }

  /** Removes every backup file of an instance being deleted (rows go with the instance's row). */
  async deleteAll(rec: Pick<InstanceRecord, 'id'>): Promise<void> {
    await rm(this.dir(rec), { recursive: true, force: true });
  }
}
