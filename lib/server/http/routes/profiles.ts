/** `/1.0/profiles`: CRUD and rename; changes reach every running instance that uses the profile. */
import type { FastifyInstance } from 'fastify';
import type { Profile, ProfilePut, ProfilesPost } from '../../../api/profile';
import { profilePutSchema, profilesPostSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import { badRequest, conflict, forbidden, notFound } from '../../errors';
import type { DaemonState } from '../../state';
import type { ProfileRecord } from '../../db/profiles';
import { validateInstanceConfig } from '../../instance/config-keys';
import { validateDevices } from '../../instance/devices/validate';
import { validateProfileName } from '../../names';
import { allowProfileUpdate } from '../../projects/permissions';
import { checkIfMatch, featureProjectOf, projectOrAll, recursionOf, setEtag } from '../request';
import { projectSuffix } from '../../projects/used-by';

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
    for (const k of Object.keys(put.config ?? {})) {
      if (k.startsWith('volatile.')) throw badRequest(`Invalid config: Volatile keys can't be set on profiles ("${k}")`);
    }
    validateDevices(s, put.devices ?? {}, { profile: true });
  };
  app.get('/1.0/profiles', async (req) => {
    const all =
      projectOrAll(s, req) === null
        ? s.db.projects.list().flatMap((p) => s.db.profiles.list(p.name))
        : s.db.profiles.list(featureProjectOf(s, req, 'profiles'));
    if (recursionOf(req) === 0) return syncResponse(all.map((p) => `/1.0/profiles/${p.name}${projectSuffix(p.project)}`));
    return syncResponse(all.map(toApi));
  });

  app.post('/1.0/profiles', { schema: { body: profilesPostSchema } }, async (req) => {
    const project = featureProjectOf(s, req, 'profiles');
    const body = req.body as ProfilesPost;
    validateProfileName(body.name);
    if (s.db.profiles.get(project, body.name)) throw conflict(`Profile "${body.name}" already exists`);
    validate(body);
    allowProfileUpdate(s.db, project, { name: body.name, config: body.config ?? {}, devices: body.devices ?? {} });
    s.db.transaction(() =>
      s.db.profiles.create({ project, name: body.name, description: body.description ?? '', config: body.config ?? {}, devices: body.devices ?? {} }),
    );
    s.events.lifecycle('profile-created', `/1.0/profiles/${body.name}`, project);
    return syncResponse({});
  });

  app.get<NameParams>('/1.0/profiles/:name', async (req, reply) => {
    const p = find(featureProjectOf(s, req, 'profiles'), req.params.name);
    setEtag(reply, etag(p));
    return syncResponse(toApi(p));
  });

  /** Writes the profile, then pushes the change to running instances using it. */
  const write = async (p: ProfileRecord, next: ProfileRecord): Promise<void> => {
    validate(next);
    allowProfileUpdate(s.db, p.project, next);
    const users = s.db.profiles.usedBy(p.id).map((u) => s.instances.get(u.project, u.name));
    const before = users.map((u) => s.instances.expand(u));
    s.db.transaction(() => s.db.profiles.update(next));
    s.events.lifecycle('profile-updated', `/1.0/profiles/${p.name}`, p.project);
    const failures: string[] = [];
    for (let i = 0; i < users.length; i++) {
      const fresh = s.instances.get(users[i].project, users[i].name);
      await s.instances
        .applyLive(fresh, before[i].expanded_config, before[i].expanded_devices)
        .catch((e: Error) => failures.push(`${fresh.name}: ${e.message}`));
    }
    if (failures.length > 0) throw badRequest(`Profile saved but not applied to every instance: ${failures.join('; ')}`);
  };

  app.put<NameParams>('/1.0/profiles/:name', { schema: { body: profilePutSchema } }, async (req) => {
    const p = find(featureProjectOf(s, req, 'profiles'), req.params.name);
    checkIfMatch(req, etag(p));
    const body = (req.body ?? {}) as Partial<ProfilePut>;
    await write(p, { ...p, description: body.description ?? '', config: body.config ?? {}, devices: body.devices ?? {} });
    return syncResponse({});
  });

  app.patch<NameParams>('/1.0/profiles/:name', { schema: { body: profilePutSchema } }, async (req) => {
    const p = find(featureProjectOf(s, req, 'profiles'), req.params.name);
    checkIfMatch(req, etag(p));
    const body = (req.body ?? {}) as Partial<ProfilePut>;
    await write(p, {
      ...p,
      description: body.description ?? p.description,
      config: { ...p.config, ...(body.config ?? {}) },
      devices: { ...p.devices, ...(body.devices ?? {}) },
    });
    return syncResponse({});
  });

  app.post<NameParams>('/1.0/profiles/:name', async (req) => {
    const p = find(featureProjectOf(s, req, 'profiles'), req.params.name);
    const name = (req.body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string') throw badRequest('Invalid request: body/name must be a string');
    validateProfileName(name);
    if (p.name === 'default') throw forbidden('The "default" profile cannot be renamed');
    if (s.db.profiles.get(p.project, name)) throw conflict(`Profile "${name}" already exists`);
    s.db.transaction(() => s.db.profiles.rename(p.id, name));
    s.events.lifecycle('profile-renamed', `/1.0/profiles/${name}`, p.project, { old_name: p.name });
    return syncResponse({});
  });

  app.delete<NameParams>('/1.0/profiles/:name', async (req) => {
    const p = find(featureProjectOf(s, req, 'profiles'), req.params.name);
    if (p.name === 'default') throw badRequest('The "default" profile cannot be deleted');
    if (s.db.profiles.usedBy(p.id).length > 0) throw badRequest('Profile is currently in use');
    s.db.transaction(() => s.db.profiles.delete(p.id));
    s.events.lifecycle('profile-deleted', `/1.0/profiles/${p.name}`, p.project);
    return syncResponse({});
  });
}
