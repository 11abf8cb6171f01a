/**
 * The two ends of an instance migration as operations. The source
 * (`POST /1.0/instances/{name}` with `migration: true`) either waits for the
 * target on a websocket operation (pull, relay) or dials the target's
 * operation (push: `target` in the body). The target (`POST /1.0/instances`
 * with `source.type: migration`) dials the source (pull) or waits (push).
 * A `pool` or `project` without a cluster target moves the instance on this
 * server instead (instance/move-local.ts).
 */
import type { FastifyReply } from 'fastify';
import type { InstancePost, InstancesPost } from '../../../api/instance';
import type { InstanceRecord } from '../../db/instances';
import { badRequest, StatusError } from '../../errors';
import { criuProblem } from '../../instance/criu';
import { instanceUrl } from '../../instance/views';
import { moveLocally } from '../../instance/move-local';
import { migrateInstanceSource } from '../../migration/instance-source';
import { asyncResponse } from '../../response';
import { backupsOf } from './instance-backups';
import { planMigrationSink, runMigrationSink } from '../../migration/instance-sink';
import type { DaemonState } from '../../state';
import { replyMigrationOp, sourceConns } from './migration-op';

/** Source side: answers 202 with the operation; the transfer runs under the instance's lock. */
export async function postMigrateSource(s: DaemonState, rec: InstanceRecord, body: InstancePost, reply: FastifyReply, snapshot?: string): Promise<FastifyReply> {
  const m = s.instances;
  if (body.live && snapshot !== undefined) throw badRequest('A snapshot cannot be migrated live');
  if (body.live) {
    // Incus answers a stateful migration it cannot do with CRIU's own reason.
    if (rec.type === 'virtual-machine') throw badRequest('Live migration of virtual machines is not supported on this server');
    const [st] = await s.drivers.states([rec]);
    if (st.pid > 0) throw new StatusError(500, (await criuProblem()) ?? 'Live migration is not supported on this server');
  }
  const { conns, waits } = sourceConns(s, body.target);
  return replyMigrationOp(s, reply, {
    conns,
    waits,
    description: 'Migrating instance',
    project: rec.project,
    resources: { instances: [instanceUrl(rec)] },
    run: (report, signal) =>
      m.locks.with(m.lockKey(rec), async () =>
        migrateInstanceSource(s, await m.get(rec.project, rec.name), conns, {
          instanceOnly: body.instance_only === true || body.container_only === true,
          ...(snapshot !== undefined ? { snapshot } : {}),
          report,
          signal,
        }),
      ),
  });
}

/** Target side: checked before answering; the instance appears only once everything arrived. */
export async function postMigrateSink(s: DaemonState, project: string, body: InstancesPost, reply: FastifyReply): Promise<FastifyReply> {
  const m = s.instances;
  const plan = await planMigrationSink(s, project, body);
  const start = body.start === true;
  return replyMigrationOp(s, reply, {
    conns: plan.conns,
    waits: plan.push,
    description: 'Creating instance',
    project,
    resources: { instances: [instanceUrl({ project, name: plan.name })] },
    run: async (report, signal) => {
      const key = plan.existing ? m.lockKey(plan.existing) : m.lockKey({ project, name: plan.name });
      const rec = await m.locks.with(key, () => runMigrationSink(s, plan, report, signal));
      if (start) await s.actions.apply(rec, { action: 'start' });
    },
  });
}

/** A move to another pool or project on this server, as a task operation (Incus's server-side instance migration). */
export async function postLocalMove(s: DaemonState, rec: InstanceRecord, body: InstancePost, reply: FastifyReply): Promise<FastifyReply> {
  const m = s.instances;
  if (body.project) await s.projects.get(body.project);
  if (body.pool && !(await s.db.pools.get(body.pool))) throw badRequest(`Can't find a storage pool '${body.pool}' for the instance to use`);
  const op = s.ops.start({
    description: 'Migrating instance',
    project: rec.project,
    resources: { instances: [instanceUrl(rec)] },
    run: () => m.locks.with(m.lockKey(rec), async () => moveLocally(m, await m.get(rec.project, rec.name), body, (r) => backupsOf(s).deleteAll(r))),
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}
