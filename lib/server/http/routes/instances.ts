/** `/1.0/instances` and `/1.0/instances/{name}`: list, create, get, update, rename, delete. */
import type { FastifyInstance } from 'fastify';
import type { Instance, InstancePost, InstancePut, InstancesPost } from '../../../api/instance';
import { FORWARDED_HEADER } from '../../cluster/member-proxy';
import { remoteInstanceViews, viewKey } from '../../cluster/remote-instances';
import { applyInstanceType } from '../../instance/instance-types';
import { instancePostSchema, instancePutSchema, instancesPostSchema } from '../../../api/schemas';
import { asyncResponse, syncResponse } from '../../response';
import { badRequest, StatusError } from '../../errors';
import type { DaemonState } from '../../state';
import { instanceUrl, listContext, toInstance, toInstanceFull } from '../../instance/views';
import { validateInstanceName } from '../../names';
import { matchFilter, parseFilter } from '../filter';
import { checkIfMatch, projectOf, projectOrAll, query, recursionOf, setEtag } from '../request';
import type { InstanceRecord } from '../../db/instances';
import { postCopy } from './instance-copy';
import { postLocalMove, postMigrateSink, postMigrateSource } from './instance-migrate';
import { checkMigrationRequest } from '../../instance/move-local';
import { postMoveToMember } from './cluster-move';
import { backupsOf, postImport } from './instance-backups';

type NameParams = { Params: { name: string } };

/** The list request as asked of another member: its recursion and projects, no filter (applied here). */
function listPath(url: string, recursion: number): string {
  const u = new URL(url, 'http://x');
  u.searchParams.delete('filter');
  u.searchParams.set('recursion', String(Math.max(recursion, 1)));
  return `${u.pathname}${u.search}`;
}

/** The fields Incus hashes for an instance's ETag. */
export function instanceEtag(rec: InstanceRecord): unknown {
  return [rec.architecture, rec.config, rec.devices, rec.ephemeral, rec.profiles];
}

export function registerInstances(app: FastifyInstance, s: DaemonState): void {
  const m = s.instances;

  app.get('/1.0/instances', async (req) => {
    const project = await projectOrAll(s, req);
    const q = query(req);
    const type = q['instance-type'];
    let recs = await s.db.instances.list(project);
    if (type) recs = recs.filter((r) => r.type === type);
    // A member asked by another for its part of a list answers with its own instances.
    if (req.headers[FORWARDED_HEADER] !== undefined) recs = recs.filter((r) => r.local);
    const recursion = recursionOf(req);
    const filter = q.filter ? parseFilter(q.filter) : null;
    if (recursion === 0 && !filter) return syncResponse(recs.map(instanceUrl));
    const local = recs.filter((r) => r.local);
    const remote = local.length === recs.length ? null : remoteInstanceViews(s, m, recs.filter((r) => !r.local), listPath(req.url, recursion));
    const states = await s.drivers.states(local, { network: recursion === 2, cpu: recursion === 2 });
    const ctx = await listContext(m, local, recursion === 2);
    const mine = local.map((r, i) => (recursion === 2 ? toInstanceFull(m, r, states[i], ctx) : toInstance(m, r, states[i], ctx)));
    let full: Instance[] = mine;
    if (remote) {
      // In the list's order: this member's views and the other members' answers.
      const views = new Map(local.map((r, i) => [viewKey(r), mine[i]!]));
      const others = await remote;
      full = recs.map((r) => views.get(viewKey(r)) ?? others.get(viewKey(r))).filter((v): v is Instance => v !== undefined);
    }
    const picked = filter ? full.filter((x) => matchFilter(filter, x)) : full;
    if (recursion === 0) return syncResponse(picked.map((x) => instanceUrl(x)));
    return syncResponse(picked);
  });

  app.post('/1.0/instances', { schema: { body: instancesPostSchema } }, async (req, reply) => {
    const ctype = String(req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (ctype === 'application/octet-stream') return postImport(s, req, reply);
    const project = await projectOf(s, req);
    const body = (req.body ?? {}) as InstancesPost;
    applyInstanceType(body);
    if (body.source?.type === 'copy') return postCopy(s, project, body, reply);
    if (body.source?.type === 'migration') return postMigrateSink(s, project, body, reply);
    const plan = await m.planCreate(project, body);
    const op = s.ops.start({
      description: 'Creating instance',
      project,
      resources: { instances: [instanceUrl(plan)] },
      run: async (ctx) => {
        const rec = await m.locks.with(m.lockKey(plan), () => m.create(plan, (md) => ctx.setMetadata(md)));
        if (plan.start) await s.actions.apply(rec, { action: 'start' });
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get<NameParams>('/1.0/instances/:name', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const [st] = await s.drivers.states([rec], { network: recursionOf(req) >= 1, cpu: recursionOf(req) >= 1 });
    setEtag(reply, instanceEtag(rec));
    return syncResponse(recursionOf(req) >= 1 ? toInstanceFull(m, rec, st, await listContext(m, [rec], true)) : toInstance(m, rec, st, await m.expand(rec)));
  });

  app.put<NameParams>('/1.0/instances/:name', { schema: { body: instancePutSchema } }, async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    checkIfMatch(req, instanceEtag(rec));
    const body = (req.body ?? {}) as Partial<InstancePut>;
    if (body.restore) {
      // Clients send "SNAP" or, as LXD's and Incus's do, "INSTANCE/SNAP".
      const prefix = `${rec.name}/`;
      const snap = await s.snapshots.get(rec, body.restore.startsWith(prefix) ? body.restore.slice(prefix.length) : body.restore);
      const op = s.ops.start({
        description: 'Restoring snapshot',
        project: rec.project,
        resources: { instances: [instanceUrl(rec)] },
        run: () =>
          m.locks.with(m.lockKey(rec), async () => {
            await s.snapshots.restore(await m.get(rec.project, rec.name), snap.name, body.stateful === true);
            // The restored NICs' DHCP reservations are written (or removed) before the client hears back.
            await s.networks.settled();
          }),
      });
      return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
    }
    // Validation answers at once; the write and live changes run as the operation, as in Incus.
    await m.prepareUpdate(rec, body);
    const op = s.ops.start({
      description: 'Updating instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)] },
      run: () =>
        m.locks.with(m.lockKey(rec), async () => {
          const cur = await m.get(rec.project, rec.name);
          await m.commitUpdate(cur, await m.prepareUpdate(cur, body));
          await s.networks.settled();
        }),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.patch<NameParams>('/1.0/instances/:name', { schema: { body: instancePutSchema } }, async (req) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    checkIfMatch(req, instanceEtag(rec));
    const body = (req.body ?? {}) as Partial<InstancePut>;
    await m.locks.with(m.lockKey(rec), async () => {
      const cur = await m.get(rec.project, rec.name);
      await m.update(cur, {
        ...body,
        config: { ...cur.config, ...(body.config ?? {}) },
        devices: { ...cur.devices, ...(body.devices ?? {}) },
        profiles: body.profiles ?? cur.profiles,
      });
    });
    await s.networks.settled();
    return syncResponse({});
  });

  app.delete<NameParams>('/1.0/instances/:name', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const [st] = await s.drivers.states([rec]);
    if (st.pid > 0) throw badRequest('Instance is running');
    const op = s.ops.start({
      description: 'Deleting instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)] },
      run: () =>
        m.locks.with(m.lockKey(rec), async () => {
          const cur = await m.get(rec.project, rec.name);
          await m.delete(cur);
          await backupsOf(s).deleteAll(cur);
          await s.networks.settled();
        }),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.post<NameParams>('/1.0/instances/:name', { schema: { body: instancePostSchema } }, async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const body = (req.body ?? {}) as InstancePost;
    const target = query(req).target;
    if (body.migration && target && s.cluster.clustered) return postMoveToMember(s, rec, target, reply);
    if (body.migration) {
      const [st] = await s.drivers.states([rec]);
      checkMigrationRequest(rec, st.pid > 0, body, s.cluster.clustered, target ?? '');
      if (body.pool || body.project) return postLocalMove(s, rec, body, reply);
      return postMigrateSource(s, rec, body, reply);
    }
    if (!body.name) throw badRequest('No name provided');
    const newName = body.name;
    validateInstanceName(newName);
    if (await s.db.instances.get(rec.project, newName)) throw new StatusError(409, `Instance "${newName}" already exists`);
    const op = s.ops.start({
      description: 'Renaming instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec), instanceUrl({ ...rec, name: newName })] },
      run: () => m.locks.with(m.lockKey(rec), async () => m.rename(await m.get(rec.project, rec.name), newName)),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });
}
