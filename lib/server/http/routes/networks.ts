/** `/1.0/networks` and `/1.0/networks/{name}`: managed networks (CRUD, rename) and host interfaces. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Network, NetworkPost, NetworkPut, NetworksPost } from '../../../api/network';
import { networkPostSchema, networkPutSchema, networksPostSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import { badRequest } from '../../errors';
import type { DaemonState } from '../../state';
import type { NetworkRecord } from '../../db/networks';
import { checkIfMatch, projectOrAll, recursionOf, setEtag } from '../request';
import { createdPerMember, fromMember } from '../../cluster/notify-members';
import { clusterNetworkView, createNetworkEverywhere, defineNetworkOnMember, deleteNetworkEverywhere } from '../../network/cluster-networks';
import { networkAccess, requireNetworkCreatable } from '../project-access';

type NameParams = { Params: { name: string }; Querystring: { target?: string } };

/** The fields Incus hashes for a network's ETag. */
function etag(n: Pick<Network, 'name' | 'managed' | 'type' | 'description' | 'config'>): unknown {
  return [n.name, n.managed, n.type, n.description, n.config];
}

function recordEtag(r: NetworkRecord): unknown {
  return etag({ name: r.name, managed: true, type: r.type, description: r.description, config: r.config });
}

export function registerNetworks(app: FastifyInstance, s: DaemonState): void {
  const nets = s.networks;

  app.get('/1.0/networks', async (req) => {
    const project = await projectOrAll(s, req);
    const view = async (r: NetworkRecord): Promise<Network> => (s.cluster.clustered ? clusterNetworkView(s, r, await nets.toApi(r)) : nets.toApi(r));
    let all = [...(await Promise.all((await nets.list()).map(view))), ...(await nets.unmanaged())].sort((a, b) => a.name.localeCompare(b.name));
    if (project !== null) {
      const access = await networkAccess(s, req);
      all = all.filter((n) => access.allowed(n.name, n.managed));
    }
    if (recursionOf(req) === 0) return syncResponse(all.map((n) => `/1.0/networks/${n.name}`));
    return syncResponse(all);
  });

  app.post<{ Querystring: { target?: string } }>('/1.0/networks', { schema: { body: networksPostSchema } }, async (req, reply) => {
    const body = req.body as NetworksPost;
    await requireNetworkCreatable(s, req, body.name);
    if (!s.cluster.clustered) await nets.create(body);
    else if (fromMember(req.headers)) await nets.startHere(body.name);
    else if (req.query.target) await defineNetworkOnMember(s, body, req.query.target);
    else if (await createdPerMember(s, (await nets.find(body.name))?.status)) await createNetworkEverywhere(s, body);
    else await nets.create(body);
    void reply.header('Location', `/1.0/networks/${body.name}`).code(201);
    return syncResponse({});
  });

  app.get<NameParams>('/1.0/networks/:name', async (req, reply) => {
    const access = await networkAccess(s, req);
    const rec = await nets.find(req.params.name);
    let n = rec ? await nets.toApi(rec) : await nets.unmanagedOne(req.params.name);
    access.require(n.name, n.managed);
    if (rec && s.cluster.clustered) n = await clusterNetworkView(s, rec, n, req.query.target);
    setEtag(reply, etag(n));
    return syncResponse(n);
  });

  /** The managed network the request's project may change. */
  const managed = async (req: FastifyRequest<NameParams>): Promise<NetworkRecord> => {
    const access = await networkAccess(s, req);
    const rec = await nets.find(req.params.name);
    if (!rec) throw badRequest('Only managed networks can be modified');
    access.require(rec.name, true);
    return rec;
  };

  app.put<NameParams>('/1.0/networks/:name', { schema: { body: networkPutSchema } }, async (req) => {
    const rec = await managed(req);
    checkIfMatch(req, recordEtag(rec));
    const body = (req.body ?? {}) as Partial<NetworkPut>;
    await nets.update(rec.name, { config: body.config ?? {}, description: body.description ?? '' });
    return syncResponse({});
  });

  app.patch<NameParams>('/1.0/networks/:name', { schema: { body: networkPutSchema } }, async (req) => {
    const rec = await managed(req);
    checkIfMatch(req, recordEtag(rec));
    const body = (req.body ?? {}) as Partial<NetworkPut>;
    await nets.update(rec.name, { config: { ...rec.config, ...(body.config ?? {}) }, description: body.description ?? rec.description });
    return syncResponse({});
  });

  app.post<NameParams>('/1.0/networks/:name', { schema: { body: networkPostSchema } }, async (req, reply) => {
    const rec = await managed(req);
    const body = req.body as NetworkPost;
    await nets.rename(rec.name, body.name);
    void reply.header('Location', `/1.0/networks/${body.name}`);
    return syncResponse({});
  });

  app.delete<NameParams>('/1.0/networks/:name', async (req) => {
    const rec = await managed(req);
    if (!s.cluster.clustered) await nets.delete(rec.name);
    else if (fromMember(req.headers)) await nets.deleteHere(rec.name);
    else await deleteNetworkEverywhere(s, rec);
    return syncResponse({});
  });
}
