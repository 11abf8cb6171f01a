/** `GET /1.0/network-allocations`: the addresses every managed network holds. */
import type { FastifyInstance } from 'fastify';
import { listForwards } from '../../network/forwards';
import { networkAllocations } from '../../network/allocations';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { projectOf } from '../request';

export function registerNetworkAllocations(app: FastifyInstance, s: DaemonState): void {
  app.get('/1.0/network-allocations', async (req) => {
    // Networks live in the default project; any project the caller may use (or all of them) sees them.
    await projectOf(s, req);
    const sources = [];
    for (const net of await s.networks.list()) {
      if (net.clusterPending) continue;
      sources.push({ net, leases: await s.networks.leases(net.name), forwards: await listForwards(s.db, net) });
    }
    return syncResponse(networkAllocations(sources));
  });
}
