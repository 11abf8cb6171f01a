/**
 * `/1.0/storage-pools/{pool}/volumes/{type}/{name}/snapshots[/{snap}]`:
 * list, create, get, PUT/PATCH (description, expiry), rename, migration
 * source (POST with `migration: true`) and delete custom volume snapshots. Writes answer with operations, as Incus does.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { asyncResponse, syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { type StorageVolumes, volumeType } from '../../storage/volumes';
import { recursionOf, setEtag } from '../request';
import { volumeProjectOf } from './storage-volumes';
import { projectSuffix } from '../../projects/used-by';
import { badRequest } from '../../errors';
import type { StorageVolumeSnapshotPost } from '../../../api/storage-volume';
import { postVolumeMigrateSource } from './storage-volume-migrate';

type VolParams = { Params: { pool: string; type: string; name: string } };
type SnapParams = { Params: { pool: string; type: string; name: string; snap: string } };

const postSchema = { type: 'object', properties: { name: { type: 'string' }, expires_at: { type: ['string', 'null'] } } } as const;
const putSchema = { type: 'object', properties: { description: { type: 'string' }, expires_at: { type: ['string', 'null'] } } } as const;
const renameSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, migration: { type: 'boolean' }, target: { type: ['object', 'null'] } },
} as const;

export function registerVolumeSnapshots(app: FastifyInstance, s: DaemonState, vols: StorageVolumes): void {
  const base = '/1.0/storage-pools/:pool/volumes/:type/:name/snapshots';
  const find = async (req: FastifyRequest<VolParams>) => {
    const pool = await s.pools.get(req.params.pool);
    const type = volumeType(req.params.type);
    return { pool, v: await vols.get(pool, await volumeProjectOf(s, req, type), type, req.params.name) };
  };
  const url = (pool: string, type: string, name: string, snap: string, project: string) =>
    `/1.0/storage-pools/${pool}/volumes/${type}/${name}/snapshots/${encodeURIComponent(snap)}${projectSuffix(project)}`;

  /** Runs work as an operation and answers 202 with it. */
  const operation = (reply: FastifyReply, project: string, description: string, resource: string, run: () => Promise<void>) => {
    const op = s.ops.start({
      description,
      project,
      resources: { storage_volume_snapshots: [resource] },
      run: () => run(),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  };

  app.get<VolParams>(base, async (req) => {
    const { pool, v } = await find(req);
    const snaps = await vols.snapshots.list(pool, v);
    if (recursionOf(req) === 0) return syncResponse(snaps.map((x) => url(pool.name, v.type, v.name, x.name.split('/')[1]!, v.project)));
    return syncResponse(snaps.map((x) => vols.snapshots.toApi(x)));
  });

  app.post<VolParams>(base, { schema: { body: postSchema } }, async (req, reply) => {
    const { pool, v } = await find(req);
    const body = (req.body ?? {}) as { name?: string; expires_at?: string | null };
    if (await vols.daemonUse(pool.name, v.project, v.name)) throw badRequest('Volumes used by Incus itself cannot have snapshots');
    // Validate and take it before answering, so that a bad name is a 400 and not a failed operation.
    const snap = await vols.snapshots.create(pool, v, body.name || undefined, body.expires_at ?? undefined);
    const name = snap.name.split('/')[1]!;
    s.events.lifecycle('storage-volume-snapshot-created', url(pool.name, v.type, v.name, name, v.project), v.project);
    return operation(reply, v.project, 'Creating storage volume snapshot', url(pool.name, v.type, v.name, name, v.project), async () => undefined);
  });

  app.get<SnapParams>(`${base}/:snap`, async (req, reply) => {
    const { pool, v } = await find(req);
    const snap = vols.snapshots.toApi(await vols.snapshots.get(pool, v, req.params.snap));
    setEtag(reply, [snap.description, snap.expires_at]);
    return syncResponse(snap);
  });

  const update = async (req: FastifyRequest<SnapParams>, reply: FastifyReply) => {
    const { pool, v } = await find(req);
    const body = (req.body ?? {}) as { description?: string; expires_at?: string | null };
    const cur = vols.snapshots.toApi(await vols.snapshots.get(pool, v, req.params.snap));
    await vols.snapshots.update(pool, v, req.params.snap, body.description ?? cur.description, body.expires_at === undefined ? undefined : (body.expires_at ?? ''));
    return operation(reply, v.project, 'Updating storage volume snapshot', url(pool.name, v.type, v.name, req.params.snap, v.project), async () => undefined);
  };
  app.put<SnapParams>(`${base}/:snap`, { schema: { body: putSchema } }, update);
  app.patch<SnapParams>(`${base}/:snap`, { schema: { body: putSchema } }, update);

  app.post<SnapParams>(`${base}/:snap`, { schema: { body: renameSchema } }, async (req, reply) => {
    const { pool, v } = await find(req);
    const body = req.body as StorageVolumeSnapshotPost;
    if (body.migration) {
      await vols.snapshots.get(pool, v, req.params.snap);
      return postVolumeMigrateSource(s, vols, pool, v, { name: v.name, migration: true, target: body.target }, reply, req.params.snap);
    }
    const to = body.name;
    await vols.snapshots.rename(pool, v, req.params.snap, to);
    return operation(reply, v.project, 'Renaming storage volume snapshot', url(pool.name, v.type, v.name, to, v.project), async () => undefined);
  });

  app.delete<SnapParams>(`${base}/:snap`, async (req, reply) => {
    const { pool, v } = await find(req);
    await vols.snapshots.get(pool, v, req.params.snap);
    const resource = url(pool.name, v.type, v.name, req.params.snap, v.project);
    return operation(reply, v.project, 'Deleting storage volume snapshot', resource, () => vols.snapshots.delete(pool, v, req.params.snap));
  });
}
