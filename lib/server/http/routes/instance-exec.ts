/** `POST /1.0/instances/{name}/exec`: run a command in an instance (an operation). */
import type { FastifyInstance } from 'fastify';
import { type InstanceExecPost, instanceExecPostSchema } from '../../../api/instance-exec';
import { badRequest } from '../../errors';
import { startExec } from '../../instance/exec/start';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { projectOf } from '../request';

export function registerInstanceExec(app: FastifyInstance, s: DaemonState): void {
  app.post<{ Params: { name: string } }>(
    '/1.0/instances/:name/exec',
    { schema: { body: instanceExecPostSchema } },
    async (req, reply) => {
      if (req.params.name.includes('/')) throw badRequest('Invalid instance name');
      const rec = await s.instances.get(await projectOf(s, req), req.params.name);
      const op = await startExec(s, rec, req.body as InstanceExecPost);
      return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
    },
  );
}
