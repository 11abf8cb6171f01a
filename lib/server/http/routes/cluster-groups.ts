/**
 * `/1.0/cluster/groups`: named sets of members (Incus's api_cluster_group.go),
 * used by `--target @group` placement. "default" holds every member.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ClusterGroup, ClusterGroupPut, ClusterGroupsPost } from '../../../api/cluster-group';
import { setGroupMembers } from '../../cluster/groups';
import { DEFAULT_GROUP, type ClusterGroupRow } from '../../db/cluster-groups';
import { badRequest, conflict, forbidden, notFound, StatusError } from '../../errors';
import { apiNameProblem } from '../../names/api-name';
import { syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { checkIfMatch, recursionOf, setEtag } from '../request';

type NameParams = { Params: { name: string } };

const groupUrl = (name: string): string => `/1.0/cluster/groups/${encodeURIComponent(name)}`;

/** Incus's clusterGroupValidate: user.* keys and the VM CPU keys per architecture. */
function validateGroupConfig(config: Record<string, string>): void {
  for (const k of Object.keys(config)) {
    if (k.startsWith('user.')) continue;
    if (/^instances\.vm\.cpu\.[a-z0-9_]+\.(baseline|flags)$/.test(k)) continue;
    throw badRequest(`Invalid cluster group configuration key ${JSON.stringify(k)}`);
  }
}

export function registerClusterGroups(app: FastifyInstance, s: DaemonState): void {
  const requireClustered = (): void => {
    if (!s.cluster.clustered) throw badRequest('This server is not clustered');
  };

  const load = async (name: string): Promise<ClusterGroupRow> => {
    const row = await s.db.clusterGroups.get(name);
    if (!row) throw notFound('Cluster group not found');
    return row;
  };

  // Go's field order: ClusterGroupPut (config, description, members), then name and used_by.
  const toApi = async (row: ClusterGroupRow): Promise<ClusterGroup> => ({
    config: await s.db.clusterGroups.config(row.id),
    description: row.description,
    members: await s.db.clusterGroups.members(row.id),
    name: row.name,
    used_by: [],
  });

  app.get('/1.0/cluster/groups', async (req) => {
    requireClustered();
    const rows = await s.db.clusterGroups.list();
    if (recursionOf(req) === 0) return syncResponse(rows.map((r) => groupUrl(r.name)));
    return syncResponse(await Promise.all(rows.map(toApi)));
  });

  app.post('/1.0/cluster/groups', async (req, reply) => {
    requireClustered();
    const body = (req.body ?? {}) as Partial<ClusterGroupsPost>;
    const name = body.name ?? '';
    const why = apiNameProblem(name);
    if (why) throw badRequest(`Invalid cluster group name: ${why}`);
    validateGroupConfig(body.config ?? {});
    await s.db.transaction(async (tx) => {
      if (await tx.clusterGroups.get(name)) throw conflict('This "cluster_groups" entry already exists');
      const id = await tx.clusterGroups.create(name, body.description ?? '');
      await tx.clusterGroups.update(id, body.description ?? '', body.config ?? {});
      await setGroupMembers(tx, id, body.members ?? []);
    });
    s.events.lifecycle('cluster-group-created', groupUrl(name));
    void reply.header('Location', groupUrl(name)).code(201);
    return syncResponse(null);
  });

  app.get<NameParams>('/1.0/cluster/groups/:name', async (req, reply) => {
    requireClustered();
    const group = await toApi(await load(req.params.name));
    setEtag(reply, { config: group.config, description: group.description, members: group.members });
    return syncResponse(group);
  });

  const update = async (name: string, req: FastifyRequest, isPatch: boolean): Promise<unknown> => {
    requireClustered();
    const row = await load(name);
    const current = await toApi(row);
    checkIfMatch(req, { config: current.config, description: current.description, members: current.members });
    const body = (req.body ?? {}) as Partial<ClusterGroupPut>;
    const config = isPatch ? { ...current.config, ...(body.config ?? {}) } : { ...(body.config ?? {}) };
    validateGroupConfig(config);
    const description = isPatch && body.description === undefined ? current.description : (body.description ?? '');
    const members = isPatch && body.members === undefined ? current.members : (body.members ?? []);
    await s.db.transaction(async (tx) => {
      await tx.clusterGroups.update(row.id, description, config);
      await setGroupMembers(tx, row.id, members);
    });
    s.events.lifecycle('cluster-group-updated', groupUrl(name));
    return syncResponse(null);
  };
  app.put<NameParams>('/1.0/cluster/groups/:name', async (req) => update(req.params.name, req, false));
  app.patch<NameParams>('/1.0/cluster/groups/:name', async (req) => update(req.params.name, req, true));

  app.post<NameParams>('/1.0/cluster/groups/:name', async (req, reply) => {
    const name = req.params.name;
    if (name === DEFAULT_GROUP) throw forbidden('The "default" group cannot be renamed');
    requireClustered();
    const newName = ((req.body ?? {}) as { name?: string }).name ?? '';
    const why = apiNameProblem(newName);
    if (why) throw badRequest(`Invalid cluster group name: ${why}`);
    await s.db.transaction(async (tx) => {
      if (await tx.clusterGroups.get(newName)) throw new StatusError(500, `Name ${JSON.stringify(newName)} already in use`);
      if (!(await tx.clusterGroups.get(name))) throw notFound('Cluster group not found');
      await tx.clusterGroups.rename(name, newName);
    });
    s.events.lifecycle('cluster-group-renamed', groupUrl(newName), 'default', { old_name: name });
    void reply.header('Location', groupUrl(newName)).code(201);
    return syncResponse(null);
  });

  app.delete<NameParams>('/1.0/cluster/groups/:name', async (req) => {
    const name = req.params.name;
    if (name === DEFAULT_GROUP) throw forbidden("The 'default' cluster group cannot be deleted");
    await s.db.transaction(async (tx) => {
      const row = await tx.clusterGroups.get(name);
      if (!row) throw notFound('Cluster group not found');
      if ((await tx.clusterGroups.members(row.id)).length > 0) throw new StatusError(500, 'Only empty cluster groups can be removed');
      await tx.clusterGroups.remove(row.id);
    });
    s.events.lifecycle('cluster-group-deleted', groupUrl(name));
    return syncResponse(null);
  });
}
