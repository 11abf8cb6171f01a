/**
 * `/1.0/storage-pools/{pool}/volumes/custom/{vol}/backups[/{backup}[/export]]`:
 * list, create, get, rename, delete and download custom volume backups;
 * the import path of `POST /1.0/storage-pools/{pool}/volumes[/custom]` (an
 * octet-stream body with X-Incus-name, a backup or with X-Incus-type: iso an ISO); and the hourly pruning of expired
 * backups (also run at start, as Incus does).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StorageVolumeBackupsPost } from '../../../api/storage-volume-backup';
import type { VolumeRecord } from '../../db/storage-pools';
import { badRequest, notFound, statusOf } from '../../errors';
import { projectSuffix } from '../../projects/used-by';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { planVolumeImport, runVolumeImport } from '../../storage/volume-backup-import';
import { VolumeBackups, volumeBackupUrl } from '../../storage/volume-backups';
import { planIsoImport, runIsoImport } from '../../storage/volume-iso';
import type { StorageVolumes } from '../../storage/volumes';
import { incusHeader, recursionOf } from '../request';
import { volumeProjectOf } from './storage-volumes';
import { accepted, backupNewName, importUpload, sendBackupFile } from './backup-common';

type VolParams = { Params: { pool: string; name: string } };
type BackupParams = { Params: { pool: string; name: string; backup: string } };

const PRUNE_INTERVAL_MS = 3600_000;
const managers = new WeakMap<DaemonState, VolumeBackups>();

/** The daemon's volume backup manager (one per daemon state, made on first use). */
export function volumeBackupsOf(s: DaemonState, vols: StorageVolumes): VolumeBackups {
  let b = managers.get(s);
  if (!b) {
    b = new VolumeBackups(s.db, s.pools, vols, s.events, s.varDir);
    managers.set(s, b);
  }
  return b;
}

const volumeUrl = (v: Pick<VolumeRecord, 'pool' | 'project' | 'name'>) => `/1.0/storage-pools/${v.pool}/volumes/custom/${v.name}${projectSuffix(v.project)}`;


/** True for a request whose body is an uploaded file (a backup import) rather than JSON. */
export function isUpload(req: FastifyRequest): boolean {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim() === 'application/octet-stream';
}

/**
 * POST .../volumes with a backup tarball as the body: stored in a temporary
 * file, read through and checked (400 on a bad file, 409 on a taken name)
 * before the operation creates anything; the file goes when the import ends.
 */
export async function postVolumeImport(s: DaemonState, vols: StorageVolumes, req: FastifyRequest<{ Params: { pool: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const type = incusHeader(req, 'type') || 'backup';
  if (type !== 'backup' && type !== 'iso') throw badRequest(`Invalid import type "${type}"`);
  const pool = await s.pools.get(req.params.pool);
  const project = await volumeProjectOf(s, req, 'custom');
  return importUpload(s, req, reply, async (file) => {
    if (type === 'iso') {
      const iso = await planIsoImport(s.db, vols, pool, project, file, incusHeader(req, 'name'));
      return {
        description: 'Importing ISO',
        project,
        resources: { storage_volumes: [volumeUrl({ pool: pool.name, project, name: iso.name })] },
        run: async () => {
          const v = await runIsoImport(vols, s.pools, iso);
          s.events.lifecycle('storage-volume-created', volumeUrl(v), v.project);
        },
      };
    }
    const plan = await planVolumeImport(s.db, vols, s.pools, pool, project, file, incusHeader(req, 'name'));
    return {
      description: 'Restoring custom volume from backup',
      project,
      resources: { storage_volumes: [volumeUrl({ pool: pool.name, project, name: plan.name })] },
      run: async () => {
        const v = await runVolumeImport(vols, s.pools, plan);
        s.events.lifecycle('storage-volume-created', volumeUrl(v), v.project);
      },
    };
  });
}

export function registerVolumeBackups(app: FastifyInstance, s: DaemonState, vols: StorageVolumes): void {
  const bm = volumeBackupsOf(s, vols);
  const prune = () => bm.pruneExpired(new Date(), (m, c) => s.log.warn(m, c)).catch((err: unknown) => s.log.warn('Pruning expired volume backups failed', { err: String(err) }));
  let timer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    await prune();
    timer = setInterval(() => void prune(), PRUNE_INTERVAL_MS);
    timer.unref();
  });
  app.addHook('onClose', async () => clearInterval(timer));

  const volumeOf = async (req: FastifyRequest<VolParams>) => {
    const pool = await s.pools.get(req.params.pool);
    return { pool, v: await vols.get(pool, await volumeProjectOf(s, req, 'custom'), 'custom', req.params.name) };
  };

  /** As Incus, a backup is looked up by its full name: a missing volume is a missing backup (404). */
  const backupOf = async (req: FastifyRequest<BackupParams>) => {
    const { v } = await volumeOf(req).catch((err: unknown) => {
      throw statusOf(err) === 404 ? notFound('Storage volume backup not found') : err;
    });
    return { v, b: await bm.get(v, req.params.backup) };
  };

  const path = '/1.0/storage-pools/:pool/volumes/custom/:name/backups';

  app.get<VolParams>(path, async (req) => {
    const { v } = await volumeOf(req);
    const list = await bm.list(v);
    if (recursionOf(req) === 0) return syncResponse(list.map((b) => volumeBackupUrl(v, b.name)));
    return syncResponse(list.map((b) => bm.toApi(b)));
  });

  app.post<VolParams>(path, async (req, reply) => {
    const { pool, v } = await volumeOf(req);
    const body = (req.body ?? {}) as StorageVolumeBackupsPost;
    if (body.name !== undefined && typeof body.name !== 'string') throw badRequest('Invalid backup name');
    const plan = await bm.plan(v, body);
    const op = s.ops.start({
      description: 'Backing up custom volume',
      project: v.project,
      resources: { storage_volumes: [volumeUrl(v)], backups: [volumeBackupUrl(v, plan.name)] },
      run: async () => {
        await bm.create(pool, v, plan);
      },
    });
    return accepted(reply, op);
  });

  app.get<BackupParams>(`${path}/:backup`, async (req) => {
    const { b } = await backupOf(req);
    return syncResponse(bm.toApi(b));
  });

  app.post<BackupParams>(`${path}/:backup`, async (req, reply) => {
    const { v, b } = await backupOf(req);
    const newName = backupNewName(req.body);
    const op = s.ops.start({
      description: 'Renaming custom volume backup',
      project: v.project,
      resources: { storage_volumes: [volumeUrl(v)], backups: [volumeBackupUrl(v, b.name)] },
      run: () => bm.rename(v, b, newName),
    });
    return accepted(reply, op);
  });

  app.delete<BackupParams>(`${path}/:backup`, async (req, reply) => {
    const { v, b } = await backupOf(req);
    const op = s.ops.start({
      description: 'Deleting custom volume backup',
      project: v.project,
      resources: { storage_volumes: [volumeUrl(v)], backups: [volumeBackupUrl(v, b.name)] },
      run: () => bm.delete(v, b),
    });
    return accepted(reply, op);
  });

  app.get<BackupParams>(`${path}/:backup/export`, async (req, reply) => {
    const { v, b } = await backupOf(req);
    return sendBackupFile(reply, bm.path(v, b));
  });
}
