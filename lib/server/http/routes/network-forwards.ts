/** `/1.0/networks/{name}/forwards` and `/1.0/networks/{name}/forwards/{listenAddress}`: network forwards (network/forwards.ts). */
import type { FastifyInstance } from 'fastify';
import type { NetworkForwardPut, NetworkForwardsPost } from '../../../api/network-forward';
import { networkForwardPutSchema, networkForwardsPostSchema } from '../../../api/schemas';
import type { NetworkForwardRecord } from '../../db/network-forwards';
import { createForward, deleteForward, forwardToApi, getForward, listForwards, updateForward } from '../../network/forwards';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { checkIfMatch, recursionOf, setEtag } from '../request';
import { networkAccess } from '../project-access';

type NameParams = { Params: { name: string } };
type ForwardParams = { Params: { name: string; address: string } };

/** The fields Incus hashes for a forward's ETag. */
function etag(r: NetworkForwardRecord): unknown {
  return [r.listenAddress, r.description, r.config, r.ports];
}

const forwardUrl = (net: string, address: string): string => `/1.0/networks/${encodeURIComponent(net)}/forwards/${encodeURIComponent(address)}`;

export function registerNetworkForwards(app: FastifyInstance, s: DaemonState): void {
  app.get<NameParams>('/1.0/networks/:name/forwards', async (req) => {
    (await networkAccess(s, req)).require(req.params.name, true);
    const forwards = await listForwards(s.db, await s.networks.get(req.params.name));
    if (recursionOf(req) === 0) return syncResponse(forwards.map((f) => forwardUrl(req.params.name, f.listen_address)));
    return syncResponse(forwards);
  });

  app.post<NameParams>('/1.0/networks/:name/forwards', { schema: { body: networkForwardsPostSchema } }, async (req, reply) => {
    (await networkAccess(s, req)).require(req.params.name, true);
    const body = req.body as NetworkForwardsPost;
    await createForward(s.db, await s.networks.get(req.params.name), body);
    void reply.header('Location', forwardUrl(req.params.name, body.listen_address)).code(201);
    return syncResponse({});
  });

  app.get<ForwardParams>('/1.0/networks/:name/forwards/:address', async (req, reply) => {
    (await networkAccess(s, req)).require(req.params.name, true);
    const rec = await getForward(s.db, await s.networks.get(req.params.name), req.params.address);
    setEtag(reply, etag(rec));
    return syncResponse(forwardToApi(rec));
  });

  app.put<ForwardParams>('/1.0/networks/:name/forwards/:address', { schema: { body: networkForwardPutSchema } }, async (req) => {
    (await networkAccess(s, req)).require(req.params.name, true);
    const net = await s.networks.get(req.params.name);
    checkIfMatch(req, etag(await getForward(s.db, net, req.params.address)));
    await updateForward(s.db, net, req.params.address, (req.body ?? {}) as Partial<NetworkForwardPut>);
    return syncResponse({});
  });

  app.patch<ForwardParams>('/1.0/networks/:name/forwards/:address', { schema: { body: networkForwardPutSchema } }, async (req) => {
    (await networkAccess(s, req)).require(req.params.name, true);
    const net = await s.networks.get(req.params.name);
    const rec = await getForward(s.db, net, req.params.address);
    checkIfMatch(req, etag(rec));
    const body = (req.body ?? {}) as Partial<NetworkForwardPut>;
    await updateForward(s.db, net, req.params.address, {
      config: { ...rec.config, ...(body.config ?? {}) },
      description: body.description ?? rec.description,
      ports: body.ports ?? rec.ports,
    });
    return syncResponse({});
  });

  app.delete<ForwardParams>('/1.0/networks/:name/forwards/:address', async (req) => {
    (await networkAccess(s, req)).require(req.params.name, true);
    await deleteForward(s.db, await s.networks.get(req.params.name), req.params.address);
    return syncResponse({});
  });
}
