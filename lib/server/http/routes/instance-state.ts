/** `/1.0/instances/{name}/state`: runtime state, and start/stop/restart/freeze/unfreeze. */
import type { FastifyInstance } from 'fastify';
import type { InstanceStatePut } from '../../../api/instance-state';
import { instanceStatePutSchema } from '../../../api/schemas';
import { asyncResponse, syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { diskState } from '../../instance/disk-state';
import { hostNamesOf, instanceUrl, toState } from '../../instance/views';
import { projectOf } from '../request';

const DESCRIPTIONS: Record<string, string> = {
  start: 'Starting instance',
  stop: 'Stopping instance',
  restart: 'Restarting instance',
  freeze: 'Freezing instance',
  unfreeze: 'Unfreezing instance',
};

export function registerInstanceState(app: FastifyInstance, s: DaemonState): void {
  app.get<{ Params: { name: string } }>('/1.0/instances/:name/state', async (req) => {
    const rec = await s.instances.get(await projectOf(s, req), req.params.name);
    const [st] = await s.drivers.states([rec], { network: true, cpu: true });
    const e = await s.instances.expand(rec);
    // A VM's guest agent reports its own disks; a container's are read from the pools.
    if (!st.disk) {
      const volumeProject = await s.projects.featureProject(rec.project, 'storage.volumes');
      st.disk = await diskState(s.db, s.pools, { project: rec.project, name: rec.name, type: rec.type, devices: e.expanded_devices, volumeProject });
    }
    return syncResponse(toState(st, hostNamesOf(rec, e)));
  });

  app.put<{ Params: { name: string } }>(
    '/1.0/instances/:name/state',
    { schema: { body: instanceStatePutSchema } },
    async (req, reply) => {
      const rec = await s.instances.get(await projectOf(s, req), req.params.name);
      const body = req.body as InstanceStatePut;
      await s.actions.check(rec, body);
      const op = s.ops.start({
        description: DESCRIPTIONS[body.action],
        project: rec.project,
        resources: { instances: [instanceUrl(rec)] },
        run: () => s.actions.apply(rec, body),
      });
      return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
    },
  );
}
