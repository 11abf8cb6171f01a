/**
 * Images from and for other servers: `POST /1.0/images` with a source of
 * type `image` (pull from a simplestreams or Incus server),
 * `POST /1.0/images/{fp}/refresh` and `POST /1.0/images/{fp}/secret`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ImageAlias } from '../../../api/image';
import { asyncResponse } from '../../response';
import { badRequest, conflict } from '../../errors';
import type { DaemonState } from '../../state';
import type { RemoteSource } from '../../images/remote';
import { refreshImage, refreshSource } from '../../images/remote';
import { validateImageAliasName } from '../../names';
import { featureProjectOf } from '../request';

/** The JSON body of POST /1.0/images with a remote source. */
export interface ImagesPostRemote {
  source: RemoteSource & { type: 'image'; mode?: string };
  aliases?: ImageAlias[];
  auto_update?: boolean;
  public?: boolean;
}

type FpParams = { Params: { fingerprint: string } };

/** Starts the download operation for POST /1.0/images {source: {type: image}}. */
export async function postRemoteImage(s: DaemonState, project: string, body: ImagesPostRemote, reply: FastifyReply): Promise<FastifyReply> {
  const src = body.source;
  if (src.mode && src.mode !== 'pull') throw badRequest(`Unsupported image copy mode "${src.mode}"`);
  s.imageRemote.downloader.check(src);
  const aliases = body.aliases ?? [];
  for (const a of aliases) {
    if (!a?.name) throw badRequest('Alias names must not be empty');
    validateImageAliasName(a.name);
    if (await s.db.images.alias(project, a.name)) throw conflict(`Alias "${a.name}" already exists`);
  }
  const op = s.ops.start({
    description: 'Downloading image',
    project,
    cancellable: true,
    run: async (ctx) => {
      const { record, downloaded } = await s.imageRemote.downloader.ensure(src, {
        project,
        autoUpdate: body.auto_update === true,
        public: body.public === true,
        signal: ctx.signal,
        onProgress: (md) => ctx.setMetadata(md),
      });
      await s.db.transaction(async (tx) => {
        for (const a of aliases) {
          if (await tx.images.alias(project, a.name)) throw conflict(`Alias already exists: ${a.name}`);
          await tx.images.addAlias(project, a.name, record.id, a.description ?? '');
        }
      });
      if (downloaded) s.events.lifecycle('image-created', `/1.0/images/${record.fingerprint}`, project);
      return { fingerprint: record.fingerprint, size: record.size };
    },
  });
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}

export function registerImageRemote(app: FastifyInstance, s: DaemonState): void {
  app.post<FpParams>('/1.0/images/:fingerprint/refresh', async (req, reply) => {
    const rec = await s.images.byFingerprint(await featureProjectOf(s, req, 'images'), req.params.fingerprint);
    await refreshSource(s.db, rec);
    const op = s.ops.start({
      description: 'Refreshing image',
      project: rec.project,
      resources: { images: [`/1.0/images/${rec.fingerprint}`] },
      cancellable: true,
      run: async (ctx) => {
        const next = await refreshImage({ ...s.imageRemote, db: s.db, images: s.images, events: s.events }, rec, {
          signal: ctx.signal,
          onProgress: (md) => ctx.setMetadata(md),
        });
        return next ? { refreshed: true, fingerprint: next.fingerprint } : { refreshed: false };
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.post<FpParams>('/1.0/images/:fingerprint/secret', async (req, reply) => {
    const rec = await s.images.byFingerprint(await featureProjectOf(s, req, 'images'), req.params.fingerprint);
    const op = s.imageRemote.secrets.create(rec.project, rec.fingerprint);
    s.events.lifecycle('image-secret-created', `/1.0/images/${rec.fingerprint}`, rec.project);
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });
}
