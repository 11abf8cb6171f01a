/** `POST /1.0/instances/{name}/rebuild`: a stopped instance's root made again from an image or empty. */
import type { FastifyInstance } from 'fastify';
import type { InstanceRebuildPost } from '../../../api/instance';
import { instanceRebuildPostSchema } from '../../../api/schemas';
import { badRequest } from '../../errors';
import { rebuildImage, rebuildInstance } from '../../instance/rebuild';
import { instanceUrl } from '../../instance/views';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { projectOf } from '../request';

export function registerInstanceRebuild(app: FastifyInstance, s: DaemonState): void {
  app.post<{ Params: { name: string } }>('/1.0/instances/:name/rebuild', { schema: { body: instanceRebuildPostSchema } }, async (req, reply) => {
    if (req.params.name.includes('/')) throw badRequest('Invalid instance name');
    const m = s.instances;
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const body = req.body as InstanceRebuildPost;
    const [st] = await s.drivers.states([rec]);
    if (st.pid > 0) throw badRequest('Instance must be stopped to be rebuilt');
    // A local image is checked before the operation exists; a remote one is fetched inside it.
    const local = body.source.type === 'image' && !body.source.server ? await rebuildImage(m, rec, body.source) : undefined;
    if (body.source.type !== 'image' && body.source.type !== 'none') throw badRequest(`Unknown source type ${String(body.source.type)}`);
    const op = s.ops.start({
      description: 'Rebuilding instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)] },
      run: (ctx) =>
        m.locks.with(m.lockKey(rec), async () => {
          const img = local !== undefined ? local : await rebuildImage(m, rec, body.source, (md) => ctx.setMetadata(md));
          await rebuildInstance(m, await m.get(rec.project, rec.name), img);
        }),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });
}
