/**
 * The two ends of an instance migration as operations. The source
 * (`POST /1.0/instances/{name}` with `migration: true`) either waits for the
 * target on a websocket operation (pull, relay) or dials the target's
 * operation (push: `target` in the body). The target (`POST /1.0/instances`
 * with `source.type: migration`) dials the source (pull) or waits (push).
 */
import type { FastifyReply } from 'fastify';
import type { InstancePost, InstancesPost } from '../../../api/instance';
import type { InstanceRecord } from '../../db/instances';
import { badRequest, StatusError } from '../../errors';
import { criuProblem } from '../../instance/criu';
import { instanceUrl } from '../../instance/views';
import { MigrationConns } from '../../migration/conns';
import { migrateInstanceSource } from '../../migration/instance-source';
import { planMigrationSink, runMigrationSink } from '../../migration/instance-sink';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';

const CHANNELS = ['control', 'fs'];

/** Source side: answers 202 with the operation; the transfer runs under the instance's lock. */
export async function postMigrateSource(s: DaemonState, rec: InstanceRecord, body: InstancePost, reply: FastifyReply): Promise<FastifyReply> {
  const m = s.instances;
  if (body.live) {
    // Incus answers a stateful migration it cannot do with CRIU's own reason.
    if (rec.type === 'virtual-machine') throw badRequest('Live migration of virtual machines is not supported on this server');
    const [st] = await s.drivers.states([rec]);
    if (st.pid > 0) throw new StatusError(500, (await criuProblem()) ?? 'Live migration is not supported on this server');
  }
  const target = body.target ?? null;
  if (target && !target.operation) throw badRequest('Missing target operation URL');
  const conns = target
    ? MigrationConns.outgoing(CHANNELS, {
        operation: target.operation!,
        secrets: target.websockets ?? {},
        certificate: target.certificate || undefined,
        certPem: s.keypair.certPem,
        keyPem: s.keypair.keyPem,
      })
    : MigrationConns.incoming(CHANNELS);
  const secrets = target ? {} : conns.secrets();
  const op = s.ops.start({
    class: target ? 'task' : 'websocket',
    description: 'Migrating instance',
    project: rec.project,
    resources: { instances: [instanceUrl(rec)] },
    metadata: target ? undefined : secrets,
    cancellable: true,
    ...(target ? {} : { websockets: conns }),
    run: (ctx) =>
      m.locks.with(m.lockKey(rec), () =>
        migrateInstanceSource(s, m.get(rec.project, rec.name), conns, {
          instanceOnly: body.instance_only === true || body.container_only === true,
          report: (md) => ctx.setMetadata({ ...secrets, ...md }),
          signal: ctx.signal,
        }),
      ),
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}

/** Target side: checked before answering; the instance appears only once everything arrived. */
export function postMigrateSink(s: DaemonState, project: string, body: InstancesPost, reply: FastifyReply): FastifyReply {
  const m = s.instances;
  const plan = planMigrationSink(s, project, body);
  const secrets = plan.push ? plan.conns.secrets() : {};
  const start = body.start === true;
  const op = s.ops.start({
    class: plan.push ? 'websocket' : 'task',
    description: 'Creating instance',
    project,
    resources: { instances: [instanceUrl({ project, name: plan.name })] },
    metadata: plan.push ? secrets : undefined,
    cancellable: true,
    ...(plan.push ? { websockets: plan.conns } : {}),
    run: async (ctx) => {
      const key = plan.existing ? m.lockKey(plan.existing) : m.lockKey({ project, name: plan.name });
      const rec = await m.locks.with(key, () => runMigrationSink(s, plan, (md) => ctx.setMetadata({ ...secrets, ...md }), ctx.signal));
      if (start) await s.actions.apply(rec, { action: 'start' });
    },
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}
