/** `/1.0/projects`: list, create, show, update, rename and delete projects. */
import type { FastifyInstance } from 'fastify';
import type { Project, ProjectPut, ProjectsPost } from '../../../api/project';
import type { ProjectRecord } from '../../db/projects';
import { badRequest } from '../../errors';
import { currentAllocations } from '../../projects/state';
import { projectUsedBy } from '../../projects/used-by';
import { asyncResponse, syncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { matchFilter, parseFilter } from '../filter';
import { callerOf } from '../../auth/caller';
import { checkIfMatch, query, recursionOf, setEtag } from '../request';

type NameParams = { Params: { name: string } };

const etag = (p: ProjectRecord): unknown => [p.description, p.config];
const projectUrl = (name: string): string => `/1.0/projects/${encodeURIComponent(name)}`;

export function registerProjects(app: FastifyInstance, s: DaemonState): void {
  const toApi = async (p: ProjectRecord): Promise<Project> => ({
    name: p.name,
    description: p.description,
    config: p.config,
    used_by: await projectUsedBy(s.db, p.name),
  });

  app.get('/1.0/projects', async (req) => {
    const q = query(req);
    const filter = q.filter ? parseFilter(q.filter) : null;
    // A restricted certificate sees only its own projects.
    const allowed = callerOf(req.raw, s.trust).projects;
    const all = (await s.db.projects.list()).filter((p) => allowed === null || allowed.includes(p.name));
    if (recursionOf(req) === 0 && !filter) return syncResponse(all.map((p) => projectUrl(p.name)));
    const full = (await Promise.all(all.map(toApi))).filter((p) => !filter || matchFilter(filter, p));
    return syncResponse(recursionOf(req) === 0 ? full.map((p) => projectUrl(p.name)) : full);
  });

  app.post('/1.0/projects', async (req, reply) => {
    const body = req.body as ProjectsPost;
    await s.projects.create(body);
    return reply.header('Location', projectUrl(body.name)).send(syncResponse({}));
  });

  app.get<NameParams>('/1.0/projects/:name', async (req, reply) => {
    const p = await s.projects.get(req.params.name);
    setEtag(reply, etag(p));
    return syncResponse(await toApi(p));
  });

  app.get<NameParams>('/1.0/projects/:name/state', async (req) => {
    const p = await s.projects.get(req.params.name);
    return syncResponse({ resources: await currentAllocations(s.db, p.name) });
  });

  app.put<NameParams>('/1.0/projects/:name', async (req) => {
    const p = await s.projects.get(req.params.name);
    checkIfMatch(req, etag(p));
    const body = req.body as Partial<ProjectPut>;
    await s.projects.update(p, { description: body.description ?? '', config: body.config ?? {} });
    return syncResponse({});
  });

  app.patch<NameParams>('/1.0/projects/:name', async (req) => {
    const p = await s.projects.get(req.params.name);
    checkIfMatch(req, etag(p));
    const body = req.body as Partial<ProjectPut>;
    await s.projects.update(p, { description: body.description ?? p.description, config: { ...p.config, ...(body.config ?? {}) } });
    return syncResponse({});
  });

  // Checked before the operation starts, so that a refusal is a plain 4xx.
  app.post<NameParams>('/1.0/projects/:name', async (req, reply) => {
    const p = await s.projects.get(req.params.name);
    const name = (req.body as { name?: string }).name;
    if (!name) throw badRequest('No name provided');
    await s.projects.checkRename(p, name);
    const op = s.ops.start({
      description: 'Renaming project',
      project: p.name,
      resources: { projects: [projectUrl(p.name)] },
      run: async () => s.projects.rename(await s.projects.get(p.name), name),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.delete<NameParams>('/1.0/projects/:name', async (req) => {
    await s.projects.delete(await s.projects.get(req.params.name));
    return syncResponse({});
  });
}
