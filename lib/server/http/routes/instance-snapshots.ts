/**
 * `/1.0/instances/{name}/snapshots[/{snap}]`: list, create, get, re-date
 * (PUT/PATCH expires_at), rename (POST) and delete; plus, when the daemon
 * runs with INCUS_TEST_HOOKS=1, `POST /internal/testing/snapshots/tick`
 * that runs one scheduler pass at a given time (the injectable clock).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { InstanceSnapshotPost, InstanceSnapshotPut, InstanceSnapshotsPost } from '../../../api/instance-snapshot';
import type { Operation } from '../../../api/operation';
import { asyncResponse, syncResponse } from '../../response';
import { badRequest, StatusError } from '../../errors';
import type { DaemonState } from '../../state';
import { instanceUrl } from '../../instance/views';
import { validateInstanceSnapshotName } from '../../names';
import { postMigrateSource } from './instance-migrate';
import { checkIfMatch, projectOf, recursionOf, setEtag } from '../request';

type NameParams = { Params: { name: string } };
type SnapParams = { Params: { name: string; snap: string } };

function snapUrl(rec: { name: string; project: string }, snap: string): string {
  const q = rec.project === 'default' ? '' : `?project=${rec.project}`;
  return `/1.0/instances/${rec.name}/snapshots/${encodeURIComponent(snap)}${q}`;
}

const accepted = (reply: FastifyReply, op: Operation) =>
  reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));

export function registerInstanceSnapshots(app: FastifyInstance, s: DaemonState): void {
  const m = s.instances;
  const snaps = s.snapshots;

  app.get<NameParams>('/1.0/instances/:name/snapshots', async (req) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const list = await snaps.list(rec);
    if (recursionOf(req) === 0) return syncResponse(list.map((x) => snapUrl(rec, x.name)));
    return syncResponse(await snaps.toApiAll(rec, list));
  });

  app.post<NameParams>('/1.0/instances/:name/snapshots', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const body = (req.body ?? {}) as InstanceSnapshotsPost;
    if (body.name !== undefined && typeof body.name !== 'string') throw badRequest('Invalid snapshot name');
    const plan = await snaps.plan(rec, { name: body.name, stateful: body.stateful, expiresAt: body.expires_at });
    const op = s.ops.start({
      description: 'Snapshotting instance',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)], instances_snapshots: [snapUrl(rec, plan.name)] },
      run: () =>
        m.locks.with(m.lockKey(rec), async () => {
          await snaps.create(await m.get(rec.project, rec.name), plan);
        }),
    });
    return accepted(reply, op);
  });

  app.get<SnapParams>('/1.0/instances/:name/snapshots/:snap', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const snap = await snaps.get(rec, req.params.snap);
    setEtag(reply, [snap.expiresAt]);
    return syncResponse(await snaps.toApi(rec, snap));
  });

  const redate = async (req: { params: { name: string; snap: string }; body: unknown }, raw: Parameters<typeof projectOf>[1]) => {
    const rec = await m.get(await projectOf(s, raw), req.params.name);
    const snap = await snaps.get(rec, req.params.snap);
    checkIfMatch(raw, [snap.expiresAt]);
    const body = (req.body ?? {}) as Partial<InstanceSnapshotPut>;
    if (body.expires_at !== undefined && typeof body.expires_at !== 'string') throw badRequest('Invalid expires_at');
    return { rec, snap, expiresAt: body.expires_at ?? '' };
  };

  app.put<SnapParams>('/1.0/instances/:name/snapshots/:snap', async (req, reply) => {
    const { rec, snap, expiresAt } = await redate(req, req);
    const op = s.ops.start({
      description: 'Updating snapshot',
      project: rec.project,
      resources: { instances_snapshots: [snapUrl(rec, snap.name)] },
      run: async () => snaps.setExpiry(rec, snap, expiresAt),
    });
    return accepted(reply, op);
  });

  // Only expires_at is writable, so PATCH is PUT (as in Incus).
  app.patch<SnapParams>('/1.0/instances/:name/snapshots/:snap', async (req) => {
    const { rec, snap, expiresAt } = await redate(req, req);
    if ((req.body as Partial<InstanceSnapshotPut> | undefined)?.expires_at !== undefined) await snaps.setExpiry(rec, snap, expiresAt);
    return syncResponse({});
  });

  app.post<SnapParams>('/1.0/instances/:name/snapshots/:snap', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const snap = await snaps.get(rec, req.params.snap);
    const body = (req.body ?? {}) as InstanceSnapshotPost;
    if (body.migration) return postMigrateSource(s, rec, { ...body, instance_only: true }, reply, snap.name);
    if (!body.name) throw badRequest('A new name for the instance must be provided');
    const newName = body.name;
    validateInstanceSnapshotName(newName);
    if (await s.db.snapshots.get(rec.id, newName)) throw new StatusError(409, `Name "${rec.name}/${newName}" already in use`);
    const op = s.ops.start({
      description: 'Renaming snapshot',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)], instances_snapshots: [snapUrl(rec, snap.name)] },
      run: () =>
        m.locks.with(m.lockKey(rec), async () => {
          const cur = await m.get(rec.project, rec.name);
          await snaps.rename(cur, await snaps.get(cur, snap.name), newName);
        }),
    });
    return accepted(reply, op);
  });

  app.delete<SnapParams>('/1.0/instances/:name/snapshots/:snap', async (req, reply) => {
    const rec = await m.get(await projectOf(s, req), req.params.name);
    const snap = await snaps.get(rec, req.params.snap);
    const op = s.ops.start({
      description: 'Deleting snapshot',
      project: rec.project,
      resources: { instances: [instanceUrl(rec)], instances_snapshots: [snapUrl(rec, snap.name)] },
      run: () =>
        m.locks.with(m.lockKey(rec), async () => {
          const cur = await m.get(rec.project, rec.name);
          await snaps.delete(cur, await snaps.get(cur, snap.name));
        }),
    });
    return accepted(reply, op);
  });

  if (process.env.INCUS_TEST_HOOKS === '1') {
    app.post('/internal/testing/snapshots/tick', async (req) => {
      const body = (req.body ?? {}) as { time?: string };
      const at = body.time ? new Date(body.time) : new Date();
      if (Number.isNaN(at.getTime())) throw badRequest('Invalid time');
      return syncResponse(await s.snapshotScheduler.tick(at));
    });
  }
}
