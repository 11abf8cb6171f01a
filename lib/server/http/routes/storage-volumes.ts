/**
 * `/1.0/storage-pools/{pool}/volumes[/{type}[/{name}]]`: list, create
 * (empty, a copy, or a migration from another server), get, PUT/PATCH,
 * DELETE, POST (rename, move to another pool, migration source), restore (PUT with `restore`) and `/state` of storage volumes;
 * snapshots in storage-volume-snapshots.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StorageVolumePost, StorageVolumePut, StorageVolumesPost } from '../../../api/storage-volume';
import type { VolumeRecord } from '../../db/storage-pools';
import { badRequest } from '../../errors';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { customVolumeUserRecords, StorageVolumes, volumeType } from '../../storage/volumes';
import { checkIfMatch, featureProjectOf, projectOf, projectOrAll, recursionOf, setEtag } from '../request';
import type { VolumeType } from '../../storage/interface';
import { projectSuffix } from '../../projects/used-by';
import { registerVolumeSnapshots } from './storage-volume-snapshots';
import { postVolumeMigrateSink, postVolumeMigrateSource } from './storage-volume-migrate';
import { allowVolumeCreation, allowVolumeUpdate } from '../../projects/permissions';
import { isUpload, postVolumeImport, registerVolumeBackups, volumeBackupsOf } from './storage-volume-backups';

type PoolParams = { Params: { pool: string; type?: string } };
type VolParams = { Params: { pool: string; type: string; name: string } };

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const putSchema = { type: 'object', properties: { config: stringMap, description: { type: 'string' }, restore: { type: 'string' } } } as const;
// `name` is checked in the handler: an ISO upload (octet-stream) has no JSON body.
const postSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1 },
    type: { type: 'string' },
    content_type: { type: 'string' },
    description: { type: 'string' },
    config: stringMap,
    source: { type: 'object' },
  },
} as const;
/** JSON bodies are checked; an octet-stream body is a backup to import. */
const createSchema = { content: { 'application/json': { schema: postSchema } } } as const;
const renameSchema = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 }, pool: { type: 'string' } } } as const;

const etag = (v: VolumeRecord) => [v.config, v.description];

/**
 * The project holding the request's volumes of `type` (Incus's
 * StorageVolumeProject): custom volumes follow features.storage.volumes,
 * image volumes are the default project's, instance volumes the request's.
 */
export async function volumeProjectOf(s: DaemonState, req: FastifyRequest, type: VolumeType): Promise<string> {
  if (type === 'custom') return featureProjectOf(s, req, 'storage.volumes');
  const project = await projectOf(s, req);
  return type === 'image' ? 'default' : project;
}

/** volumeProjectOf for every type at once, looked up before a list is filtered. */
async function volumeProjectsOf(s: DaemonState, req: FastifyRequest): Promise<(type: VolumeType) => string> {
  const project = await projectOf(s, req);
  const custom = await s.projects.featureProject(project, 'storage.volumes');
  return (type) => (type === 'custom' ? custom : type === 'image' ? 'default' : project);
}

export function registerStorageVolumes(app: FastifyInstance, s: DaemonState): void {
  const vols = new StorageVolumes(s.db, s.pools);
  const url = (v: VolumeRecord) => `/1.0/storage-pools/${v.pool}/volumes/${v.type}/${v.name}${projectSuffix(v.project)}`;

  const list = async (req: FastifyRequest<PoolParams>) => {
    const pool = await s.pools.get(req.params.pool);
    const type = req.params.type === undefined ? undefined : volumeType(req.params.type);
    let found = await vols.listAll(pool, type);
    if (await projectOrAll(s, req) !== null) {
      // As Incus: image volumes (a cache kept in default) show where the request's project holds the image.
      const images = new Set((await s.db.images.list(await projectOf(s, req))).map((i) => i.fingerprint));
      found = (await vols.listIn(pool, await volumeProjectsOf(s, req), type)).filter((v) => v.type !== 'image' || images.has(v.name));
    }
    if (recursionOf(req) === 0) return syncResponse(found.map(url));
    return syncResponse(await Promise.all(found.map((v) => vols.toApi(v))));
  };
  app.get<PoolParams>('/1.0/storage-pools/:pool/volumes', list);
  app.get<PoolParams>('/1.0/storage-pools/:pool/volumes/:type', list);

  const create = async (req: FastifyRequest<PoolParams>, reply: FastifyReply) => {
    if (isUpload(req)) return postVolumeImport(s, vols, req, reply);
    const pool = await s.pools.get(req.params.pool);
    const body = req.body as StorageVolumesPost;
    if (!body.name) throw badRequest("body must have required property 'name'");
    const type = req.params.type ?? body.type ?? 'custom';
    if (type !== 'custom') throw badRequest('Only custom storage volumes can be created with the storage API');
    const src = body.source;
    let copyFrom;
    const srcType = src?.type ?? '';
    if (srcType === 'migration') {
      if (!src?.refresh) await allowVolumeCreation(s.db, await volumeProjectOf(s, req, 'custom'), pool.name, { name: body.name, config: body.config ?? {} });
      return postVolumeMigrateSink(s, vols, pool, await volumeProjectOf(s, req, 'custom'), body, reply);
    }
    if (srcType !== '' && srcType !== 'copy') throw badRequest(`Unknown source type ${JSON.stringify(srcType)}`);
    if (srcType === 'copy' && !src?.name) throw badRequest('No source volume name provided');
    const project = await volumeProjectOf(s, req, 'custom');
    let srcContentType = 'filesystem';
    if (src && srcType === 'copy') {
      const from = await s.pools.get(src.pool || pool.name);
      // `<volume>/<snapshot>` copies a snapshot; source.project names the source's project when it differs.
      const [name, snapshot] = (src.name ?? '').split('/') as [string, string | undefined];
      const srcProject = src.project ? await s.projects.featureProject(src.project, 'storage.volumes') : project;
      const v = await vols.get(from, srcProject, 'custom', name);
      if (snapshot !== undefined) await vols.snapshots.get(from, v, snapshot);
      srcContentType = v.contentType;
      copyFrom = { pool: from.name, project: v.project, type: volumeType(v.type), name: v.name, snapshot, withSnapshots: src.volume_only !== true };
      const existing = src.refresh ? await s.db.pools.volume(pool.name, project, 'custom', body.name) : undefined;
      if (existing) {
        await vols.refresh(pool, existing, copyFrom, src.refresh_exclude_older === true);
        return syncResponse({});
      }
    }
    await allowVolumeCreation(s.db, project, pool.name, { name: body.name, config: body.config ?? {} });
    const v = await vols.create(pool, project, {
      name: body.name,
      contentType: body.content_type || srcContentType,
      description: body.description ?? '',
      config: body.config ?? {},
      copyFrom,
    });
    s.events.lifecycle('storage-volume-created', url(v), v.project);
    return syncResponse({});
  };
  app.post<PoolParams>('/1.0/storage-pools/:pool/volumes', { schema: { body: createSchema } }, create);
  app.post<PoolParams>('/1.0/storage-pools/:pool/volumes/:type', { schema: { body: createSchema } }, create);

  const find = async (req: FastifyRequest<VolParams>) => {
    const pool = await s.pools.get(req.params.pool);
    const type = volumeType(req.params.type);
    return { pool, v: await vols.get(pool, await volumeProjectOf(s, req, type), type, req.params.name) };
  };

  app.get<VolParams>('/1.0/storage-pools/:pool/volumes/:type/:name', async (req, reply) => {
    const { v } = await find(req);
    setEtag(reply, etag(v));
    return syncResponse(await vols.toApi(v));
  });

  app.get<VolParams>('/1.0/storage-pools/:pool/volumes/:type/:name/state', async (req) => {
    const { pool, v } = await find(req);
    return syncResponse(await vols.state(pool, v));
  });

  app.put<VolParams>('/1.0/storage-pools/:pool/volumes/:type/:name', { schema: { body: putSchema } }, async (req) => {
    const { pool, v } = await find(req);
    checkIfMatch(req, etag(v));
    const body = (req.body ?? {}) as Partial<StorageVolumePut> & { restore?: string };
    if (body.restore) {
      if (await vols.daemonUse(pool.name, v.project, v.name)) throw badRequest('The storage volume is in use; detach it before restoring a snapshot');
      // As Incus: attached is fine, in use by a running instance is not.
      const { instances } = await customVolumeUserRecords(s.db, pool.name, v.project, v.name);
      if ((await s.drivers.states(instances)).some((st) => st.pid > 0)) throw badRequest('Cannot restore custom volume used by running instances');
      await vols.snapshots.restore(pool, v, body.restore);
      s.events.lifecycle('storage-volume-restored', url(v), v.project);
      return syncResponse({});
    }
    if (v.type === 'custom') await allowVolumeUpdate(s.db, v.project, pool.name, { name: v.name, config: body.config ?? {} });
    await vols.update(pool, v, body.config ?? {}, body.description ?? '');
    s.events.lifecycle('storage-volume-updated', url(v), v.project);
    return syncResponse({});
  });

  app.patch<VolParams>('/1.0/storage-pools/:pool/volumes/:type/:name', { schema: { body: putSchema } }, async (req) => {
    const { pool, v } = await find(req);
    checkIfMatch(req, etag(v));
    const body = (req.body ?? {}) as Partial<StorageVolumePut>;
    if (v.type === 'custom') await allowVolumeUpdate(s.db, v.project, pool.name, { name: v.name, config: { ...v.config, ...(body.config ?? {}) } });
    await vols.update(pool, v, { ...v.config, ...(body.config ?? {}) }, body.description ?? v.description);
    s.events.lifecycle('storage-volume-updated', url(v), v.project);
    return syncResponse({});
  });

  app.post<VolParams>('/1.0/storage-pools/:pool/volumes/:type/:name', { schema: { body: renameSchema } }, async (req, reply) => {
    const { pool, v } = await find(req);
    const body = req.body as StorageVolumePost;
    if (body.migration) return postVolumeMigrateSource(s, vols, pool, v, body, reply);
    const moved = await vols.rename(pool, v, body.name, body.pool || undefined);
    await volumeBackupsOf(s, vols).volumeRenamed(v, moved);
    s.events.lifecycle(moved.pool === v.pool ? 'storage-volume-renamed' : 'storage-volume-moved', url(moved), v.project);
    return syncResponse({});
  });

  app.delete<VolParams>('/1.0/storage-pools/:pool/volumes/:type/:name', async (req) => {
    const { pool, v } = await find(req);
    await vols.delete(pool, v);
    await volumeBackupsOf(s, vols).volumeDeleted(v);
    s.events.lifecycle('storage-volume-deleted', url(v), v.project);
    return syncResponse({});
  });

  registerVolumeSnapshots(app, s, vols);
  registerVolumeBackups(app, s, vols);
}
