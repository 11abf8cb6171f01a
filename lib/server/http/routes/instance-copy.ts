/** `POST /1.0/instances` with `source.type: copy`: a local copy of an instance or snapshot, as an operation. */
import type { FastifyReply } from 'fastify';
import type { InstancesPost } from '../../../api/instance';
import { planCopy, runCopy } from '../../instance/copy';
import { runRefresh } from '../../instance/copy-refresh';
import { instanceUrl } from '../../instance/views';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';

/** Plans synchronously (errors answer at once), copies in the operation holding both instances' locks. */
export async function postCopy(s: DaemonState, project: string, body: InstancesPost, reply: FastifyReply): Promise<FastifyReply> {
  const m = s.instances;
  const plan = await planCopy(m, project, body);
  const op = s.ops.start({
    description: 'Creating instance',
    project,
    resources: { instances: [instanceUrl(plan), instanceUrl(plan.source)] },
    run: async () => {
      const copy = () => (plan.refreshOf ? runRefresh(m, s.snapshots, plan, plan.refreshOf) : runCopy(m, plan));
      const rec = await m.locks.with(m.lockKey(plan), () => m.locks.with(m.lockKey(plan.source), copy));
      if (plan.start) await s.actions.apply(rec, { action: 'start' });
    },
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}
