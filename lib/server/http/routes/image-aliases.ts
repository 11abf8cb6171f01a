/** `/1.0/images/aliases`: alias CRUD and rename (alias names may contain "/"). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ImageAliasesEntry, ImageAliasesEntryPut, ImageAliasesPost } from '../../../api/image';
import { imageAliasesPostSchema, imageAliasPutSchema } from '../../../api/schemas';
import { syncResponse } from '../../response';
import { badRequest, conflict, notFound } from '../../errors';
import type { DaemonState } from '../../state';
import type { AliasRecord } from '../../db/images';
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
  const find = (req: FastifyRequest): AliasRecord => {
    const a = s.db.images.alias(featureProjectOf(s, req, 'images'), aliasName(req));
    if (!a) throw notFound('Image alias not found');
    return a;
  };

  app.get('/1.0/images/aliases', async (req) => {
    const project = featureProjectOf(s, req, 'images');
    const all = s.db.images.aliases(project);
    if (recursionOf(req) === 0) return syncResponse(all.map((a) => `/1.0/images/aliases/${encodeURIComponent(a.name)}${projectSuffix(project)}`));
    return syncResponse(all.map(toEntry));
  });

  app.post('/1.0/images/aliases', { schema: { body: imageAliasesPostSchema } }, async (req) => {
    const project = featureProjectOf(s, req, 'images');
    const body = req.body as ImageAliasesPost;
    validateImageAliasName(body.name);
    if (s.db.images.alias(project, body.name)) throw conflict(`Alias "${body.name}" already exists`);
    const img = s.images.byFingerprint(project, body.target);
    s.db.transaction(() => s.db.images.addAlias(project, body.name, img.id, body.description ?? ''));
    s.events.lifecycle('image-alias-created', `/1.0/images/aliases/${body.name}`, project, { target: img.fingerprint });
    return syncResponse({});
  });

  app.get('/1.0/images/aliases/*', async (req, reply) => {
    const a = find(req);
    // Untrusted callers see only aliases of public images, as Incus.
    if (!callerOf(req.raw, s.trust).trusted && !s.db.images.list(a.project).some((i) => i.fingerprint === a.fingerprint && i.public)) {
      throw notFound('Image alias not found');
    }
    setEtag(reply, [a.name, a.description, a.fingerprint]);
    return syncResponse(toEntry(a));
  });

  const update = (merge: boolean) => async (req: FastifyRequest) => {
    const a = find(req);
    checkIfMatch(req, [a.name, a.description, a.fingerprint]);
    const body = (req.body ?? {}) as Partial<ImageAliasesEntryPut>;
    const target = body.target ?? (merge ? a.fingerprint : '');
    if (!target) throw badRequest('Missing target');
    const img = s.images.byFingerprint(a.project, target);
    const description = body.description ?? (merge ? a.description : '');
    s.db.transaction(() => s.db.images.updateAlias(a.id, img.id, description));
    s.events.lifecycle('image-alias-updated', `/1.0/images/aliases/${a.name}`, a.project);
    return syncResponse({});
  };
  app.put('/1.0/images/aliases/*', { schema: { body: imageAliasPutSchema } }, update(false));
  app.patch('/1.0/images/aliases/*', update(true));

  app.post('/1.0/images/aliases/*', async (req) => {
    const a = find(req);
    const name = (req.body as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string') throw badRequest('Invalid request: body/name must be a string');
    validateImageAliasName(name);
    if (s.db.images.alias(a.project, name)) throw conflict(`Alias "${name}" already exists`);
    s.db.transaction(() => s.db.images.renameAlias(a.id, name));
    s.events.lifecycle('image-alias-renamed', `/1.0/images/aliases/${name}`, a.project, { old_name: a.name });
    return syncResponse({});
  });

  app.delete('/1.0/images/aliases/*', async (req) => {
    const a = find(req);
    s.db.transaction(() => s.db.images.deleteAlias(a.id));
    s.events.lifecycle('image-alias-deleted', `/1.0/images/aliases/${a.name}`, a.project);
    return syncResponse({});
  });
}
