/** `/1.0/images/aliases`: alias CRUD and rename (alias names may contain "/"). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageAliasesEntry, ImageAliasesEntryPut, ImageAliasesPost } from '../../../api/image';
import { imageAliasesPostSchema, imageAliasPutSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import { badRequest, conflict, notFound } from '../../errors';
import type { DaemonState } from '../../state';
import type { Queries } from '../../db';
import type { AliasRecord } from '../../db/images';
import { imageOf } from '../../images/store';
import { validateImageAliasName } from '../../names';
import { checkIfMatch, featureProjectOf, recursionOf, setEtag } from '../request';
import { projectSuffix } from '../../projects/used-by';
import { callerOf } from '../../auth/caller';

function toEntry(a: AliasRecord): ImageAliasesEntry {
  return { name: a.name, description: a.description, target: a.fingerprint, type: a.type };
}

function aliasName(req: FastifyRequest): string {
  const raw = (req.params as { '*': string })['*'];
  return decodeURIComponent(raw);
}

export function registerImageAliases(app: FastifyInstance, s: DaemonState): void {
  const find = async (db: Queries, project: string, req: FastifyRequest): Promise<AliasRecord> => {
    const a = await db.images.alias(project, aliasName(req));
    if (!a) throw notFound('Image alias not found');
    return a;
  };

  app.get('/1.0/images/aliases', async (req) => {
    const project = await featureProjectOf(s, req, 'images');
    const all = await s.db.images.aliases(project);
    if (recursionOf(req) === 0) return syncResponse(all.map((a) => `/1.0/images/aliases/${encodeURIComponent(a.name)}${projectSuffix(project)}`));
    return syncResponse(all.map(toEntry));
  });

  app.post('/1.0/images/aliases', { schema: { body: imageAliasesPostSchema } }, async (req) => {
    const project = await featureProjectOf(s, req, 'images');
    const body = req.body as ImageAliasesPost;
    validateImageAliasName(body.name);
    // The name check and the insert in one transaction: two creates of one name give one 409.
    const img = await s.db.transaction(async (tx) => {
      if (await tx.images.alias(project, body.name)) throw conflict(`Alias "${body.name}" already exists`);
      const img = await imageOf(tx, project, body.target);
      await tx.images.addAlias(project, body.name, img.id, body.description ?? '');
      return img;
    });
    s.events.lifecycle('image-alias-created', `/1.0/images/aliases/${body.name}`, project, { target: img.fingerprint });
    return syncResponse({});
  });

  app.get('/1.0/images/aliases/*', async (req, reply) => {
    const a = await find(s.db, await featureProjectOf(s, req, 'images'), req);
    // Untrusted callers see only aliases of public images, as Incus.
    if (!callerOf(req.raw, s.trust).trusted && !(await s.db.images.list(a.project)).some((i) => i.fingerprint === a.fingerprint && i.public)) {
      throw notFound('Image alias not found');
    }
    setEtag(reply, [a.name, a.description, a.fingerprint]);
    return syncResponse(toEntry(a));
  });

  const update = (merge: boolean) => async (req: FastifyRequest) => {
    const project = await featureProjectOf(s, req, 'images');
    // Read, checked against If-Match, merged and written in one transaction.
    const a = await s.db.transaction(async (tx) => {
      const a = await find(tx, project, req);
      checkIfMatch(req, [a.name, a.description, a.fingerprint]);
      const body = (req.body ?? {}) as Partial<ImageAliasesEntryPut>;
      const target = body.target ?? (merge ? a.fingerprint : '');
      if (!target) throw badRequest('Missing target');
      const img = await imageOf(tx, a.project, target);
      const description = body.description ?? (merge ? a.description : '');
      await tx.images.updateAlias(a.id, img.id, description);
      return a;
    });
    s.events.lifecycle('image-alias-updated', `/1.0/images/aliases/${a.name}`, a.project);
    return syncResponse({});
  };
  app.put('/1.0/images/aliases/*', { schema: { body: imageAliasPutSchema } }, update(false));
  app.patch('/1.0/images/aliases/*', update(true));

  app.post('/1.0/images/aliases/*', async (req) => {
    const project = await featureProjectOf(s, req, 'images');
    const { a, name } = await s.db.transaction(async (tx) => {
      const a = await find(tx, project, req);
      const name = (req.body as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string') throw badRequest('Invalid request: body/name must be a string');
      validateImageAliasName(name);
      if (await tx.images.alias(a.project, name)) throw conflict(`Alias "${name}" already exists`);
      await tx.images.renameAlias(a.id, name);
      return { a, name };
    });
    s.events.lifecycle('image-alias-renamed', `/1.0/images/aliases/${name}`, a.project, { old_name: a.name });
    return syncResponse({});
  });

  app.delete('/1.0/images/aliases/*', async (req) => {
    const a = await find(s.db, await featureProjectOf(s, req, 'images'), req);
    await s.db.images.deleteAlias(a.id);
    s.events.lifecycle('image-alias-deleted', `/1.0/images/aliases/${a.name}`, a.project);
    return syncResponse({});
  });
}
