/**
 * `POST /internal/cluster/instances/move-in`: the member an instance moves
 * to (evacuation, `move --target`) opens the receiving end of the transfer
 * as a websocket operation; the member holding the instance dials in.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { InstanceRecord } from '../../db/instances';
import { badRequest, notFound } from '../../errors';
import { instanceUrl } from '../../instance/views';
import { connsFor } from '../../migration/conns';
import { planMemberMoveSink, runMigrationSink } from '../../migration/instance-sink';
import type { DaemonState } from '../../state';
import { replyMigrationOp } from './migration-op';
import { moveInstanceToMember, startOnMember } from '../../cluster/move';
import { asyncResponse } from '../../response';

export function registerClusterMove(app: FastifyInstance, s: DaemonState): void {
  registerClusterMoveOut(app, s);
  app.post('/internal/cluster/instances/move-in', async (req, reply) => {
    const body = (req.body ?? {}) as { project?: string; name?: string };
    if (!s.cluster.clustered) throw badRequest('This server is not clustered');
    if (!body.name) throw badRequest('No instance name provided');
    const rec = await s.db.instances.get(body.project || 'default', body.name);
    if (!rec) throw notFound('Instance not found');
    if (rec.local) throw badRequest(`Instance "${rec.name}" already lives on this member`);
    const conns = connsFor(['control', 'fs'], null, s.keypair);
    const plan = planMemberMoveSink(rec, conns);
    const m = s.instances;
    return replyMigrationOp(s, reply, {
      conns,
      waits: true,
      description: 'Moving instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)] },
      run: (report, signal) => m.locks.with(m.lockKey(rec), () => runMigrationSink(s, plan, report, signal)),
    });
  });
}

/**
 * `POST /1.0/instances/{name}?target=MEMBER` with `migration: true` (`incus
 * move --target`), on the member holding the instance: a running instance
 * is stopped, moved and started again on the target.
 */
export async function postMoveToMember(s: DaemonState, rec: InstanceRecord, targetName: string, reply: FastifyReply): Promise<FastifyReply> {
  const target = await s.db.members.get(targetName);
  if (!target) throw notFound('Cluster member not found');
  if (target.name === rec.location) throw badRequest(`Instance "${rec.name}" is already on member "${target.name}"`);
  const op = s.ops.start({
    description: 'Migrating instance',
    project: rec.project,
    resources: { instances: [instanceUrl(rec)] },
    run: async () => {
      const [st] = await s.drivers.states([rec]);
      const running = (st?.pid ?? 0) > 0;
      if (running) await s.actions.apply(rec, { action: 'stop', force: true });
      await moveInstanceToMember(s, await s.instances.get(rec.project, rec.name), target);
      if (running) await startOnMember(s, rec, target);
    },
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}

/**
 * `POST /internal/cluster/instances/move-out`: the member holding an
 * instance moves it to `target` (a restore bringing instances back): stopped
 * first when running; the operation's metadata says whether it was.
 */
export function registerClusterMoveOut(app: FastifyInstance, s: DaemonState): void {
  app.post('/internal/cluster/instances/move-out', async (req, reply) => {
    const body = (req.body ?? {}) as { project?: string; name?: string; target?: string };
    // Checked before anything happens: the move stops the instance first.
    if (!s.cluster.clustered) throw badRequest('This server is not clustered');
    if (!body.name || !body.target) throw badRequest('No instance name or target member provided');
    const rec = await s.db.instances.get(body.project || 'default', body.name);
    if (!rec) throw notFound('Instance not found');
    if (!rec.local) throw badRequest(`Instance "${rec.name}" does not live on this member`);
    const target = await s.db.members.get(body.target);
    if (!target) throw notFound('Cluster member not found');
    if (target.name === rec.location) throw badRequest(`Instance "${rec.name}" is already on member "${target.name}"`);
    const op = s.ops.start({
      description: 'Moving instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)] },
      run: async (ctx) => {
        const [st] = await s.drivers.states([rec]);
        const running = (st?.pid ?? 0) > 0;
        if (running) await s.actions.apply(rec, { action: 'stop', force: true });
        await moveInstanceToMember(s, await s.instances.get(rec.project, rec.name), target);
        ctx.setMetadata({ running });
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });
}
