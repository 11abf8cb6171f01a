/** `/1.0/storage-pools`: list, create, get and delete pools (volumes arrive with issue 06). */
import type { FastifyInstance } from 'fastify';
import type { StoragePoolsPost } from '../../../api/storage-pool';
import { storagePoolsPostSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { recursionOf, setEtag } from '../request';

type NameParams = { Params: { name: string } };

export function registerStoragePools(app: FastifyInstance, s: DaemonState): void {
  app.get('/1.0/storage-pools', async (req) => {
    const pools = s.pools.list();
    if (recursionOf(req) === 0) return syncResponse(pools.map((p) => `/1.0/storage-pools/${p.name}`));
    return syncResponse(pools.map((p) => s.pools.toApi(p)));
  });

  app.post('/1.0/storage-pools', { schema: { body: storagePoolsPostSchema } }, async (req) => {
    const body = req.body as StoragePoolsPost;
    const p = await s.pools.create(body.name, body.driver, body.config ?? {}, body.description ?? '');
    s.events.lifecycle('storage-pool-created', `/1.0/storage-pools/${p.name}`);
    return syncResponse({});
  });

  app.get<NameParams>('/1.0/storage-pools/:name', async (req, reply) => {
    const p = s.pools.get(req.params.name);
    setEtag(reply, [p.config, p.description]);
    return syncResponse(s.pools.toApi(p));
  });

  app.delete<NameParams>('/1.0/storage-pools/:name', async (req) => {
    const p = s.pools.get(req.params.name);
    await s.pools.delete(p);
    s.events.lifecycle('storage-pool-deleted', `/1.0/storage-pools/${p.name}`);
    return syncResponse({});
  });
}
