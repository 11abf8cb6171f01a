/** `/1.0/profiles`: list, get and update (full CRUD arrives with issue 03). */
import type { FastifyInstance } from 'fastify';
import type { Profile, ProfilePut } from '../../../api/profile';
import { profilePutSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import { badRequest, notFound } from '../../errors';
import type { DaemonState } from '../../state';
import type { ProfileRecord } from '../../db/profiles';
import { validateInstanceConfig } from '../../instance/config-keys';
import { checkIfMatch, projectOf, recursionOf, setEtag } from '../request';

type NameParams = { Params: { name: string } };

function etag(p: ProfileRecord): unknown {
  return [p.config, p.description, p.devices];
}

export function registerProfiles(app: FastifyInstance, s: DaemonState): void {
  const toApi = (p: ProfileRecord): Profile => ({
    name: p.name,
    description: p.description,
    config: p.config,
    devices: p.devices,
    project: p.project,
    used_by: s.db.profiles.usedBy(p.id).map((i) => `/1.0/instances/${i.name}${i.project === 'default' ? '' : `?project=${i.project}`}`),
  });
  const find = (project: string, name: string): ProfileRecord => {
    const p = s.db.profiles.get(project, name);
    if (!p) throw notFound('Profile not found');
    return p;
  };
  const validate = (put: Partial<ProfilePut>): void => {
    validateInstanceConfig(put.config ?? {});
    for (const [name, dev] of Object.entries(put.devices ?? {})) {
      if (!dev.type) throw badRequest(`Invalid device "${name}": Missing device type`);
      if (dev.type === 'disk' && dev.path === '/' && dev.pool && !s.db.pools.get(dev.pool)) {
        throw badRequest(`Invalid device "${name}": Storage pool "${dev.pool}" doesn't exist`);
      }
    }
  };

  app.get('/1.0/profiles', async (req) => {
    const all = s.db.profiles.list(projectOf(s, req));
    if (recursionOf(req) === 0) return syncResponse(all.map((p) => `/1.0/profiles/${p.name}`));
    return syncResponse(all.map(toApi));
  });

  app.get<NameParams>('/1.0/profiles/:name', async (req, reply) => {
    const p = find(projectOf(s, req), req.params.name);
    setEtag(reply, etag(p));
    return syncResponse(toApi(p));
  });

  const write = (merge: boolean) => async (req: { params: { name: string }; body: unknown }, p: ProfileRecord) => {
    const body = (req.body ?? {}) as Partial<ProfilePut>;
    const next: ProfileRecord = {
      ...p,
      description: body.description ?? (merge ? p.description : ''),
      config: merge ? { ...p.config, ...(body.config ?? {}) } : (body.config ?? {}),
      devices: merge ? { ...p.devices, ...(body.devices ?? {}) } : (body.devices ?? {}),
    };
    validate(next);
    s.db.transaction(() => s.db.profiles.update(next));
    s.events.lifecycle('profile-updated', `/1.0/profiles/${p.name}`, p.project);
  };

  app.put<NameParams>('/1.0/profiles/:name', { schema: { body: profilePutSchema } }, async (req) => {
    const p = find(projectOf(s, req), req.params.name);
    checkIfMatch(req, etag(p));
    await write(false)(req, p);
    return syncResponse({});
  });

  app.patch<NameParams>('/1.0/profiles/:name', { schema: { body: profilePutSchema } }, async (req) => {
    const p = find(projectOf(s, req), req.params.name);
    checkIfMatch(req, etag(p));
    await write(true)(req, p);
    return syncResponse({});
  });
}
