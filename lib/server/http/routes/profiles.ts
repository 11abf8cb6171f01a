/** `/1.0/profiles`: CRUD and rename; changes reach every running instance that uses the profile. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Profile, ProfilePut, ProfilesPost } from '../../../api/profile';
import { profilePutSchema, profilesPostSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import { badRequest, conflict, forbidden, notFound } from '../../errors';
import type { DaemonState } from '../../state';
import type { Queries } from '../../db';
import type { InstanceRecord } from '../../db/instances';
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
  const usedByUrls = (used: { name: string; project: string }[]): string[] =>
    used.map((i) => `/1.0/instances/${i.name}${i.project === 'default' ? '' : `?project=${i.project}`}`);
  const toApi = async (p: ProfileRecord): Promise<Profile> => ({
    name: p.name,
    description: p.description,
    config: p.config,
    devices: p.devices,
    project: p.project,
    used_by: usedByUrls(await s.db.profiles.usedBy(p.id)),
  });
  const find = async (db: Queries, project: string, name: string): Promise<ProfileRecord> => {
    const p = await db.profiles.get(project, name);
    if (!p) throw notFound('Profile not found');
    return p;
  };
  const validate = async (put: Partial<ProfilePut>): Promise<void> => {
    validateInstanceConfig(put.config ?? {});
    for (const k of Object.keys(put.config ?? {})) {
      if (k.startsWith('volatile.')) throw badRequest(`Invalid config: Volatile keys can't be set on profiles ("${k}")`);
    }
    await validateDevices(s, put.devices ?? {}, { profile: true });
  };
  app.get('/1.0/profiles', async (req) => {
    let all: ProfileRecord[];
    if ((await projectOrAll(s, req)) === null) {
      all = [];
      for (const p of await s.db.projects.list()) all.push(...(await s.db.profiles.list(p.name)));
    } else all = await s.db.profiles.list(await featureProjectOf(s, req, 'profiles'));
    if (recursionOf(req) === 0) return syncResponse(all.map((p) => `/1.0/profiles/${p.name}${projectSuffix(p.project)}`));
    const out: Profile[] = [];
    for (const p of all) out.push(await toApi(p));
    return syncResponse(out);
  });

  app.post('/1.0/profiles', { schema: { body: profilesPostSchema } }, async (req) => {
    const project = await featureProjectOf(s, req, 'profiles');
    const body = req.body as ProfilesPost;
    validateProfileName(body.name);
    // The name check and the insert in one transaction: two creates of one name give one 409.
    await s.db.transaction(async (tx) => {
      if (await tx.profiles.get(project, body.name)) throw conflict(`Profile "${body.name}" already exists`);
      await validate(body);
      await allowProfileUpdate(tx, project, { name: body.name, config: body.config ?? {}, devices: body.devices ?? {} });
      await tx.profiles.create({ project, name: body.name, description: body.description ?? '', config: body.config ?? {}, devices: body.devices ?? {} });
    });
    s.events.lifecycle('profile-created', `/1.0/profiles/${body.name}`, project);
    return syncResponse({});
  });

  app.get<NameParams>('/1.0/profiles/:name', async (req, reply) => {
    const p = await find(s.db, await featureProjectOf(s, req, 'profiles'), req.params.name);
    setEtag(reply, etag(p));
    return syncResponse(await toApi(p));
  });

  /**
   * Reads the profile, checks If-Match, writes what `change` makes of it (one
   * transaction, so a concurrent PATCH is never lost), then pushes the change
   * to running instances using it.
   */
  const write = async (req: FastifyRequest<NameParams>, change: (p: ProfileRecord) => ProfileRecord): Promise<void> => {
    const project = await featureProjectOf(s, req, 'profiles');
    const { p, users, before } = await s.db.transaction(async (tx) => {
      const p = await find(tx, project, req.params.name);
      checkIfMatch(req, etag(p));
      const next = change(p);
      await validate(next);
      await allowProfileUpdate(tx, p.project, next);
      const users: InstanceRecord[] = [];
      const before: Awaited<ReturnType<typeof s.instances.expand>>[] = [];
      for (const u of await tx.profiles.usedBy(p.id)) {
        const rec = await s.instances.get(u.project, u.name);
        users.push(rec);
        before.push(await s.instances.expand(rec));
      }
      await tx.profiles.update(next);
      return { p, users, before };
    });
    s.events.lifecycle('profile-updated', `/1.0/profiles/${p.name}`, p.project);
    const failures: string[] = [];
    for (let i = 0; i < users.length; i++) {
      const fresh = await s.instances.get(users[i].project, users[i].name);
      await s.instances
        .applyLive(fresh, before[i].expanded_config, before[i].expanded_devices)
        .catch((e: Error) => failures.push(`${fresh.name}: ${e.message}`));
    }
    await s.networks.settled();
    if (failures.length > 0) throw badRequest(`Profile saved but not applied to every instance: ${failures.join('; ')}`);
  };

  app.put<NameParams>('/1.0/profiles/:name', { schema: { body: profilePutSchema } }, async (req) => {
    const body = (req.body ?? {}) as Partial<ProfilePut>;
    await write(req, (p) => ({ ...p, description: body.description ?? '', config: body.config ?? {}, devices: body.devices ?? {} }));
    return syncResponse({});
  });

  app.patch<NameParams>('/1.0/profiles/:name', { schema: { body: profilePutSchema } }, async (req) => {
    const body = (req.body ?? {}) as Partial<ProfilePut>;
    await write(req, (p) => ({
      ...p,
      description: body.description ?? p.description,
      config: { ...p.config, ...(body.config ?? {}) },
      devices: { ...p.devices, ...(body.devices ?? {}) },
    }));
    return syncResponse({});
  });

  app.post<NameParams>('/1.0/profiles/:name', async (req) => {
    const project = await featureProjectOf(s, req, 'profiles');
    const p = await s.db.transaction(async (tx) => {
      const p = await find(tx, project, req.params.name);
      const name = (req.body as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string') throw badRequest('Invalid request: body/name must be a string');
      validateProfileName(name);
      if (p.name === 'default') throw forbidden('The "default" profile cannot be renamed');
      if (await tx.profiles.get(p.project, name)) throw conflict(`Profile "${name}" already exists`);
      await tx.profiles.rename(p.id, name);
      return { project: p.project, oldName: p.name, name };
    });
    s.events.lifecycle('profile-renamed', `/1.0/profiles/${p.name}`, p.project, { old_name: p.oldName });
    return syncResponse({});
  });

  app.delete<NameParams>('/1.0/profiles/:name', async (req) => {
    const project = await featureProjectOf(s, req, 'profiles');
    // The in-use check and the delete in one transaction: no instance can take the profile in between.
    const p = await s.db.transaction(async (tx) => {
      const p = await find(tx, project, req.params.name);
      if (p.name === 'default') throw badRequest('The "default" profile cannot be deleted');
      if ((await tx.profiles.usedBy(p.id)).length > 0) throw badRequest('Profile is currently in use');
      await tx.profiles.delete(p.id);
      return p;
    });
    s.events.lifecycle('profile-deleted', `/1.0/profiles/${p.name}`, p.project);
    return syncResponse({});
  });
}
