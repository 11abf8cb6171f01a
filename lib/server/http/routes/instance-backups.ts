/**
 * `/1.0/instances/{name}/backups[/{backup}[/export]]`: list, create, get,
 * rename, delete and download instance backups; plus the import path of
 * `POST /1.0/instances` (an octet-stream body with X-Incus-name/-pool).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceBackupsPost } from '../../../api/instance-backup';
import { badRequest, notFound, statusOf } from '../../errors';
import { planImport, runImport } from '../../instance/backup-import';
import { BackupManager } from '../../instance/backups';
import { followBackupYaml } from '../../instance/backup-yaml';
import { instanceUrl } from '../../instance/views';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { incusHeader, projectOf, recursionOf } from '../request';
import { accepted, backupNewName, importUpload, sendBackupFile } from './backup-common';

type NameParams = { Params: { name: string } };
type BackupParams = { Params: { name: string; backup: string } };

const backups = new WeakMap<DaemonState, BackupManager>();

/** The daemon's backup manager (one per daemon state, made on first use). */
export function backupsOf(s: DaemonState): BackupManager {
  let b = backups.get(s);
  if (!b) {
    b = new BackupManager(s.instances, s.varDir);
    backups.set(s, b);
  }
  return b;
}

function backupUrl(rec: { name: string; project: string }, b: string): string {
  const q = rec.project === 'default' ? '' : `?project=${rec.project}`;
  return `/1.0/instances/${rec.name}/backups/${encodeURIComponent(b)}${q}`;
}


/**
 * POST /1.0/instances with a backup tarball as the body: stored in a
 * temporary file, read through and checked (400 on a bad file) before the
 * operation creates anything; the file goes when the import ends.
 */
export async function postImport(s: DaemonState, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const project = await projectOf(s, req);
  const m = s.instances;
  return importUpload(s, req, reply, async (file) => {
    const plan = await planImport(m, project, file, { name: incusHeader(req, 'name'), pool: incusHeader(req, 'pool') });
    return {
      description: 'Creating instance',
      project,
      resources: { instances: [instanceUrl(plan.record)] },
      run: async () => {
        await m.locks.with(m.lockKey(plan.record), () => runImport(m, plan));
      },
    };
  });
}

export function registerInstanceBackups(app: FastifyInstance, s: DaemonState): void {
  const m = s.instances;
  const bm = backupsOf(s);
  // backup.yaml in each volume follows every change, for `admin recover`.
  const unfollow = followBackupYaml(s.events, m, bm);
  app.addHook('onClose', async () => unfollow());

  app.get<NameParams>('/1.0/instances/:name/backups', async (req) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const list = await bm.list(rec);
    if (recursionOf(req) === 0) return syncResponse(list.map((b) => backupUrl(rec, b.name)));
    return syncResponse(list.map((b) => bm.toApi(b)));
  });

  app.post<NameParams>('/1.0/instances/:name/backups', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const body = (req.body ?? {}) as InstanceBackupsPost;
    if (body.name !== undefined && typeof body.name !== 'string') throw badRequest('Invalid backup name');
    const plan = await bm.plan(rec, body);
    const op = s.ops.start({
      description: 'Backing up instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)], backups: [backupUrl(rec, plan.name)] },
      run: () =>
        m.locks.with(m.lockKey(rec), async () => {
          await bm.create(await m.get(rec.project, rec.name), plan);
        }),
    });
    return accepted(reply, op);
  });

  /**
   * The instance and backup a request names. Incus looks the backup up by
   * its full name alone, so a missing instance is a missing backup (404).
   */
  const backupOf = async (req: FastifyRequest<BackupParams>) => {
    const rec = await m.get(await projectOf(s, req), req.params.name).catch((err: unknown) => {
      throw statusOf(err) === 404 ? notFound('Instance backup not found') : err;
    });
    return { rec, b: await bm.get(rec, req.params.backup) };
  };

  app.get<BackupParams>('/1.0/instances/:name/backups/:backup', async (req) => {
    const { b } = await backupOf(req);
    return syncResponse(bm.toApi(b));
  });

  app.post<BackupParams>('/1.0/instances/:name/backups/:backup', async (req, reply) => {
    const { rec, b } = await backupOf(req);
    const newName = backupNewName(req.body);
    const op = s.ops.start({
      description: 'Renaming instance backup',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)], backups: [backupUrl(rec, b.name)] },
      run: () => bm.rename(rec, b, newName),
    });
    return accepted(reply, op);
  });

  app.delete<BackupParams>('/1.0/instances/:name/backups/:backup', async (req, reply) => {
    const { rec, b } = await backupOf(req);
    const op = s.ops.start({
      description: 'Deleting instance backup',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)], backups: [backupUrl(rec, b.name)] },
      run: () => bm.delete(rec, b),
    });
    return accepted(reply, op);
  });

  app.get<BackupParams>('/1.0/instances/:name/backups/:backup/export', async (req, reply) => {
    const { rec, b } = await backupOf(req);
    return sendBackupFile(reply, bm.path(rec, b));
  });
}
