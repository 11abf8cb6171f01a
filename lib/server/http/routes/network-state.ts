/** `/1.0/networks/{name}/state` and `/1.0/networks/{name}/leases`. */
import type { FastifyInstance } from 'fastify';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { networkAccess } from '../project-access';

type NameParams = { Params: { name: string } };

export function registerNetworkState(app: FastifyInstance, s: DaemonState): void {
  app.get<NameParams>('/1.0/networks/:name/state', async (req) => {
    (await networkAccess(s, req)).require(req.params.name, (await s.networks.find(req.params.name)) !== undefined);
    return syncResponse(await s.networks.state(req.params.name));
  });

  app.get<NameParams>('/1.0/networks/:name/leases', async (req) => {
    (await networkAccess(s, req)).require(req.params.name, (await s.networks.find(req.params.name)) !== undefined);
    return syncResponse(await s.networks.leases(req.params.name));
  });
}
