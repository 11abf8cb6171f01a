/**
 * Push mode of `incus image copy`, both ends (Incus's imageExportPost and
 * the push branch of imagesPost):
 * - the target hands the client a push token (`POST /1.0/images` with
 *   source.mode "push"), an operation whose metadata holds a secret and
 *   what the copy gets (aliases, public, properties, expires_at);
 * - `POST /1.0/images/{fingerprint}/export` has this server push one of
 *   its images to that target, which takes the upload on the secret alone
 *   (the source server need not be trusted there); the answer is an
 *   operation that ends once the target has stored the image.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ImageAlias, ImageExportPost } from '../../../api/image';
import { NOT_AUTHORIZED } from '../../auth/access';
import { badRequest, forbidden } from '../../errors';
import { pushImage } from '../../images/push';
import { parseServerUrl } from '../../images/remote/server-url';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { featureProjectOf, incusHeader } from '../request';

type FpParams = { Params: { fingerprint: string } };

const optionalStrings = (v: unknown): boolean => v === undefined || v === null || (Array.isArray(v) && v.every((x) => typeof x === 'string'));

/** Checks the body's shape; returns it typed. */
function parseBody(raw: unknown): ImageExportPost {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw badRequest('Invalid request body');
  const b = raw as Record<string, unknown>;
  for (const k of ['target', 'secret', 'certificate', 'project'] as const) {
    if (b[k] !== undefined && b[k] !== null && typeof b[k] !== 'string') throw badRequest(`Invalid "${k}": a string is expected`);
  }
  if (!b.target) throw badRequest('A target server is required');
  if (!optionalStrings(b.profiles)) throw badRequest('Invalid "profiles": a list of names is expected');
  const aliases = b.aliases ?? [];
  if (!Array.isArray(aliases) || !aliases.every((a) => typeof (a as { name?: unknown })?.name === 'string')) throw badRequest('Invalid "aliases": a list of {name} is expected');
  return raw as ImageExportPost;
}

/** The JSON body of POST /1.0/images asking for a push token. */
export interface ImagesPostPush {
  source: { mode: 'push'; fingerprint?: string };
  aliases?: ImageAlias[];
  expires_at?: string;
  properties?: Record<string, string>;
  public?: boolean;
}

/** Answers a push token request: the token operation (202), for the image the source will push. */
export function pushTokenResponse(s: DaemonState, project: string, body: ImagesPostPush, reply: FastifyReply): FastifyReply {
  const fingerprint = body.source.fingerprint ?? '';
  if (typeof fingerprint !== 'string' || !/^[0-9a-f]{64}$/.test(fingerprint)) throw badRequest('A push needs the full fingerprint of the image in source.fingerprint');
  const op = s.imageRemote.secrets.create(project, fingerprint, {
    aliases: body.aliases ?? [],
    expires_at: body.expires_at ?? '',
    properties: body.properties ?? {},
    public: body.public === true,
  });
  s.events.lifecycle('image-secret-created', `/1.0/images/${fingerprint}`, project);
  return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
}

/** What a push token says the pushed image gets. */
export interface PushedImage {
  aliases: ImageAlias[];
  expiresAt: string;
  properties: Record<string, string> | undefined;
  public: boolean | undefined;
}

/**
 * For POST /1.0/images: the push token that X-Incus-secret and
 * X-Incus-fingerprint name, used up now (as Incus does, whether the caller
 * is trusted or not), or null. An untrusted caller gets 403 without one,
 * and may only upload with one.
 */
export function takePushToken(s: DaemonState, req: FastifyRequest, project: string, trusted: boolean, upload: boolean): PushedImage | null {
  const secret = incusHeader(req, 'secret') ?? '';
  const fingerprint = incusHeader(req, 'fingerprint') ?? '';
  const md = secret && fingerprint ? s.imageRemote.secrets.take(project, fingerprint, secret) : null;
  if (!trusted && (!md || !upload)) throw forbidden(NOT_AUTHORIZED);
  if (!md) return null;
  const aliases = Array.isArray(md.aliases) ? (md.aliases as ImageAlias[]) : [];
  const props = md.properties;
  return {
    aliases,
    expiresAt: typeof md.expires_at === 'string' ? md.expires_at : '',
    properties: props && typeof props === 'object' ? (props as Record<string, string>) : undefined,
    public: typeof md.public === 'boolean' ? md.public : undefined,
  };
}

export function registerImageExport(app: FastifyInstance, s: DaemonState): void {
  app.post<FpParams>('/1.0/images/:fingerprint/export', async (req, reply) => {
    const project = await featureProjectOf(s, req, 'images');
    const rec = await s.images.byFingerprint(project, req.params.fingerprint);
    const body = parseBody(req.body);
    const server = parseServerUrl(body.target);
    const op = s.ops.start({
      description: 'Downloading image',
      project,
      resources: { images: [`/1.0/images/${rec.fingerprint}`] },
      cancellable: true,
      run: async (ctx) => {
        await pushImage(
          s.images,
          rec,
          { server, certificate: body.certificate || undefined, secret: body.secret ?? '', project: body.project || undefined, aliases: body.aliases ?? [], profiles: body.profiles ?? [] },
          { signal: ctx.signal, report: (md) => ctx.setMetadata(md) },
        );
        s.events.lifecycle('image-retrieved', `/1.0/images/${rec.fingerprint}`, project, { target: body.target });
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });
}
