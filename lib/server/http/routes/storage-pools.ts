/** `/1.0/storage-pools`: list, create, get, PUT/PATCH, delete pools and `/resources`; volumes in storage-volumes.ts. */
import type { FastifyInstance } from 'fastify';
import type { StoragePoolPut, StoragePoolsPost } from '../../../api/storage-pool';
import { storagePoolsPostSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { checkIfMatch, recursionOf, setEtag } from '../request';
import { registerStorageVolumes } from './storage-volumes';
import { clusterPoolView, createPoolInCluster, deletePoolEverywhere } from '../../storage/cluster-pools';
import { fromMember } from '../../cluster/notify-members';
import { notFound } from '../../errors';
import { hiddenPools } from '../project-access';

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;
const putSchema = { type: 'object', properties: { config: stringMap, description: { type: 'string' } } } as const;

type NameParams = { Params: { name: string }; Querystring: { target?: string } };

export function registerStoragePools(app: FastifyInstance, s: DaemonState): void {
  app.get('/1.0/storage-pools', async (req) => {
    const hidden = await hiddenPools(s, req);
    const pools = (await s.pools.list()).filter((p) => !hidden(p.name));
    if (recursionOf(req) === 0) return syncResponse(pools.map((p) => `/1.0/storage-pools/${p.name}`));
    if (!s.cluster.clustered) return syncResponse(await Promise.all(pools.map((p) => s.pools.toApi(p))));
    return syncResponse(await Promise.all(pools.map(async (p) => clusterPoolView(s, p, await s.pools.toApi(p)))));
  });

  app.post<{ Querystring: { target?: string } }>('/1.0/storage-pools', { schema: { body: storagePoolsPostSchema } }, async (req) => {
    const body = req.body as StoragePoolsPost;
    const create = { name: body.name, driver: body.driver, config: body.config ?? {}, description: body.description ?? '' };
    if (s.cluster.clustered && (await createPoolInCluster(s, create, req.query.target, fromMember(req.headers)))) return syncResponse({});
    const p = await s.pools.create(create.name, create.driver, create.config, create.description);
    s.events.lifecycle('storage-pool-created', `/1.0/storage-pools/${p.name}`);
    return syncResponse({});
  });

  app.get<NameParams>('/1.0/storage-pools/:name', async (req, reply) => {
    if ((await hiddenPools(s, req))(req.params.name)) throw notFound('not found');
    const p = await s.pools.get(req.params.name);
    setEtag(reply, [p.config, p.description]);
    if (!s.cluster.clustered) return syncResponse(await s.pools.toApi(p));
    return syncResponse(await clusterPoolView(s, p, await s.pools.toApi(p), req.query.target));
  });

  app.put<NameParams>('/1.0/storage-pools/:name', { schema: { body: putSchema } }, async (req) => {
    const p = await s.pools.get(req.params.name);
    checkIfMatch(req, [p.config, p.description]);
    const body = (req.body ?? {}) as Partial<StoragePoolPut>;
    await s.pools.update(p, body.config ?? {}, body.description ?? '');
    s.events.lifecycle('storage-pool-updated', `/1.0/storage-pools/${p.name}`);
    return syncResponse({});
  });

  app.patch<NameParams>('/1.0/storage-pools/:name', { schema: { body: putSchema } }, async (req) => {
    const p = await s.pools.get(req.params.name);
    checkIfMatch(req, [p.config, p.description]);
    const body = (req.body ?? {}) as Partial<StoragePoolPut>;
    await s.pools.update(p, { ...p.config, ...(body.config ?? {}) }, body.description ?? p.description);
    s.events.lifecycle('storage-pool-updated', `/1.0/storage-pools/${p.name}`);
    return syncResponse({});
  });

  app.get<NameParams>('/1.0/storage-pools/:name/resources', async (req) => {
    return syncResponse(await s.pools.resources(await s.pools.get(req.params.name)));
  });

  app.delete<NameParams>('/1.0/storage-pools/:name', async (req) => {
    const p = await s.pools.get(req.params.name);
    if (!s.cluster.clustered) await s.pools.delete(p);
    else if (!fromMember(req.headers)) await deletePoolEverywhere(s, p);
    else {
      await s.pools.deleteHere(p);
      return syncResponse({});
    }
    s.events.lifecycle('storage-pool-deleted', `/1.0/storage-pools/${p.name}`);
    return syncResponse({});
  });

  registerStorageVolumes(app, s);
}
