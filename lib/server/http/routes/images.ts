/** `/1.0/images`: list, upload (unified tarball as octet-stream), get, update, delete, export. */
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import type { ImagePut } from '../../../api/image';
import { imagePutSchema } from '../../../api/schemas';
import { asyncResponse, syncResponse } from '../../response';
import { badRequest, conflict, notImplemented } from '../../errors';
import type { DaemonState } from '../../state';
import type { ImageRecord } from '../../db/images';
import { checkIfMatch, incusHeader, projectOf, recursionOf, setEtag } from '../request';

type FpParams = { Params: { fingerprint: string } };

function imageEtag(r: ImageRecord): unknown {
  return [r.autoUpdate, r.properties, r.public, r.expiresAt];
}

function parseProperties(h: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of new URLSearchParams(h)) out[k] = v;
  return out;
}

export function registerImages(app: FastifyInstance, s: DaemonState): void {
  app.get('/1.0/images', async (req) => {
    const project = projectOf(s, req);
    const imgs = s.db.images.list(project);
    if (recursionOf(req) === 0) return syncResponse(imgs.map((i) => `/1.0/images/${i.fingerprint}`));
    return syncResponse(imgs.map((i) => s.images.toApi(i)));
  });

  app.post('/1.0/images', async (req, reply) => {
    const project = projectOf(s, req);
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim();
    if (type === 'multipart/form-data') throw notImplemented('Split image uploads are not supported yet');
    if (type !== 'application/octet-stream') throw notImplemented('Only image uploads (application/octet-stream) are supported so far');
    const aliases = (incusHeader(req, 'aliases') ?? '').split(',').map((a) => a.trim()).filter(Boolean);
    for (const a of aliases) if (s.db.images.alias(project, a)) throw conflict(`Alias "${a}" already exists`);
    const rec = await s.images.importUpload(req.body as Readable, {
      project,
      filename: incusHeader(req, 'filename') ?? '',
      public: incusHeader(req, 'public') === 'true' || incusHeader(req, 'public') === '1',
      properties: parseProperties(incusHeader(req, 'properties')),
      expectedFingerprint: incusHeader(req, 'fingerprint') || undefined,
    });
    s.db.transaction(() => {
      for (const a of aliases) s.db.images.addAlias(project, a, rec.id, '');
    });
    s.events.lifecycle('image-created', `/1.0/images/${rec.fingerprint}`, project);
    const op = s.ops.start({
      description: 'Downloading image',
      project,
      resources: { images: [`/1.0/images/${rec.fingerprint}`] },
      run: async () => ({ fingerprint: rec.fingerprint, size: rec.size }),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get<FpParams>('/1.0/images/:fingerprint', async (req, reply) => {
    const rec = s.images.byFingerprint(projectOf(s, req), req.params.fingerprint);
    setEtag(reply, imageEtag(rec));
    return syncResponse(s.images.toApi(rec));
  });

  const update = (merge: boolean) => async (req: { params: { fingerprint: string }; body: unknown }, rec: ImageRecord) => {
    const body = (req.body ?? {}) as Partial<ImagePut>;
    const next: ImageRecord = {
      ...rec,
      public: body.public ?? (merge ? rec.public : false),
      autoUpdate: body.auto_update ?? (merge ? rec.autoUpdate : false),
      properties: merge ? { ...rec.properties, ...(body.properties ?? {}) } : (body.properties ?? {}),
      expiresAt: body.expires_at ?? rec.expiresAt,
    };
    if (body.expires_at !== undefined && Number.isNaN(Date.parse(body.expires_at))) {
      throw badRequest(`Invalid expires_at "${body.expires_at}"`);
    }
    s.db.transaction(() => s.db.images.update(next));
    s.events.lifecycle('image-updated', `/1.0/images/${rec.fingerprint}`, rec.project);
  };

  app.put<FpParams>('/1.0/images/:fingerprint', { schema: { body: imagePutSchema } }, async (req) => {
    const rec = s.images.byFingerprint(projectOf(s, req), req.params.fingerprint);
    checkIfMatch(req, imageEtag(rec));
    await update(false)(req, rec);
    return syncResponse({});
  });

  app.patch<FpParams>('/1.0/images/:fingerprint', { schema: { body: imagePutSchema } }, async (req) => {
    const rec = s.images.byFingerprint(projectOf(s, req), req.params.fingerprint);
    checkIfMatch(req, imageEtag(rec));
    await update(true)(req, rec);
    return syncResponse({});
  });

  app.delete<FpParams>('/1.0/images/:fingerprint', async (req, reply) => {
    const rec = s.images.byFingerprint(projectOf(s, req), req.params.fingerprint);
    const op = s.ops.start({
      description: 'Deleting image',
      project: rec.project,
      resources: { images: [`/1.0/images/${rec.fingerprint}`] },
      run: async () => {
        await s.images.delete(rec);
        s.events.lifecycle('image-deleted', `/1.0/images/${rec.fingerprint}`, rec.project);
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get<FpParams>('/1.0/images/:fingerprint/export', async (req, reply) => {
    const rec = s.images.byFingerprint(projectOf(s, req), req.params.fingerprint);
    const name = rec.filename || `${rec.fingerprint}.tar.xz`;
    return reply
      .header('Content-Type', 'application/octet-stream')
      .header('Content-Disposition', `attachment; filename=${name}`)
      .header('Content-Length', String(rec.size))
      .send(createReadStream(s.images.path(rec.fingerprint)));
  });
}
