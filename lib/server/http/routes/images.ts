/** `/1.0/images`: list, upload (unified tarball as octet-stream), get, update, delete, export. */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { BLOCK_FILE } from '../../storage/block-file';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import type { ImageAlias, ImagePut } from '../../../api/image';
import { receiveSplitUpload } from '../../images/multipart';
import { buildPublishedImage } from '../../images/publish';
import { sendSplitExport } from '../../images/export';
import { imageFileExtension } from '../../images/image-type';
import { type ImagesPostRemote, postRemoteImage } from './image-remote';
import { type ImagesPostPush, pushTokenResponse, takePushToken } from './image-export';
import { imagePutSchema } from '../../../api/schemas';
import { asyncResponse, syncResponse } from '../../response';
import { badRequest, conflict, notImplemented } from '../../errors';

/** POST /1.0/images JSON body (publish); uploads carry headers instead. */
interface ImagesPost {
  source?: { type?: string; name?: string };
  aliases?: ImageAlias[];
  public?: boolean;
  properties?: Record<string, string>;
  compression_algorithm?: string;
  filename?: string;
  /** "unified" (default) or "split" (API extension instance_publish_split). */
  format?: string;
}
import type { DaemonState } from '../../state';
import type { ImageRecord } from '../../db/images';
import { validateImageAliasName } from '../../names';
import { imageOf } from '../../images/store';
import { checkIfMatch, incusHeader, featureProjectOf, projectOf, projectOrAll, recursionOf, setEtag } from '../request';
import { instanceUrl } from '../../instance/views';
import { forgetImageOnMembers } from '../../cluster/image-fetch';
import { projectSuffix } from '../../projects/used-by';
import { callerOf } from '../../auth/caller';
import { notFound } from '../../errors';
import { parseIdmapJson } from '../../instance/idmap-alloc';

type FpParams = { Params: { fingerprint: string } };

function imageEtag(r: ImageRecord): unknown {
  return [r.autoUpdate, r.properties, r.public, r.expiresAt];
}

/**
 * X-Incus-aliases: Incus's client sends `alias=a&alias=b`; a value without
 * `alias=` is a comma-separated list of names.
 */
function aliasHeader(h: string | undefined): string[] {
  if (!h) return [];
  const query = new URLSearchParams(h).getAll('alias');
  const names = query.length > 0 ? query : h.split(',');
  return names.map((a) => a.trim()).filter(Boolean);
}

function parseProperties(h: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of new URLSearchParams(h)) out[k] = v;
  return out;
}

export function registerImages(app: FastifyInstance, s: DaemonState): void {
  // Untrusted callers see public images only (and a private one with its one-time secret).
  const trusted = (req: { raw: import('node:http').IncomingMessage }): boolean => callerOf(req.raw, s.trust).trusted;
  const visible = (req: FastifyRequest, rec: ImageRecord): ImageRecord => {
    if (rec.public || trusted(req)) return rec;
    const secret = (req.query as { secret?: string }).secret;
    if (secret && s.imageRemote.secrets.check(rec.project, rec.fingerprint, secret, false)) return rec;
    throw notFound('Image not found');
  };

  app.get('/1.0/images', async (req) => {
    let listed: ImageRecord[];
    if ((await projectOrAll(s, req)) === null) {
      listed = [];
      for (const p of await s.db.projects.list()) listed.push(...(await s.db.images.list(p.name)));
    } else listed = await s.db.images.list(await featureProjectOf(s, req, 'images'));
    const imgs = listed.filter((i) => i.public || trusted(req));
    if (recursionOf(req) === 0) return syncResponse(imgs.map((i) => `/1.0/images/${i.fingerprint}${projectSuffix(i.project)}`));
    return syncResponse(await Promise.all(imgs.map((i) => s.images.toApi(i))));
  });

  app.post('/1.0/images', async (req, reply) => {
    const project = await featureProjectOf(s, req, 'images');
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim();
    const upload = type === 'application/octet-stream' || type === 'multipart/form-data';
    const pushed = takePushToken(s, req, project, trusted(req), upload);
    const opts = {
      project,
      filename: incusHeader(req, 'filename') ?? '',
      public: pushed?.public ?? (incusHeader(req, 'public') === 'true' || incusHeader(req, 'public') === '1'),
      properties: pushed?.properties ?? parseProperties(incusHeader(req, 'properties')),
      expectedFingerprint: incusHeader(req, 'fingerprint') || undefined,
    };
    const checkAliases = async (names: string[]): Promise<void> => {
      for (const a of names) {
        validateImageAliasName(a);
        if (await s.db.images.alias(project, a)) throw conflict(`Alias "${a}" already exists`);
      }
    };
    const finish = async (rec: ImageRecord, aliases: ImageAlias[], description: string) => {
      await s.db.transaction(async (tx) => {
        // A pushed image gets the expiry its push token names.
        if (pushed?.expiresAt && !pushed.expiresAt.startsWith('0001-')) await tx.images.update({ ...rec, expiresAt: pushed.expiresAt });
        for (const a of aliases) await tx.images.addAlias(project, a.name, rec.id, a.description ?? '');
      });
      s.events.lifecycle('image-created', `/1.0/images/${rec.fingerprint}`, project);
      const op = s.ops.start({
        description,
        project,
        resources: { images: [`/1.0/images/${rec.fingerprint}${projectSuffix(project)}`] },
        // The pushing server waits on this operation with this secret (it need not be trusted here).
        metadata: pushed ? { secret: randomBytes(32).toString('hex') } : undefined,
        run: async () => ({ fingerprint: rec.fingerprint, size: rec.size }),
      });
      return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
    };

    if (upload) {
      const aliases = pushed && pushed.aliases.length > 0 ? pushed.aliases : aliasHeader(incusHeader(req, 'aliases')).map((name) => ({ name, description: '' }));
      await checkAliases(aliases.map((a) => a.name));
      let rec: ImageRecord;
      if (type === 'multipart/form-data') {
        const id = s.images.beginUpload();
        try {
          rec = await s.images.importSplit(await receiveSplitUpload(req.body as Readable, req.headers, s.images.dir, id), opts);
        } finally {
          s.images.endUpload(id);
        }
      } else {
        rec = await s.images.importUpload(req.body as Readable, opts);
      }
      return finish(rec, aliases, 'Downloading image');
    }

    const body = (req.body ?? {}) as ImagesPost;
    const source = body.source;
    // A push token comes first: its source names no type (Incus's order).
    if ((source as { mode?: string } | undefined)?.mode === 'push') return pushTokenResponse(s, project, body as unknown as ImagesPostPush, reply);
    if (source?.type === 'image') return postRemoteImage(s, project, body as unknown as ImagesPostRemote, reply);
    // Incus's own list of source types; anything else is a malformed request.
    if (!['container', 'instance', 'virtual-machine', 'snapshot', 'image', 'url'].includes(source?.type ?? '')) throw badRequest('Invalid images JSON');
    if (!source || (source.type !== 'instance' && source.type !== 'container' && source.type !== 'snapshot')) {
      throw notImplemented(`Image source type "${source?.type ?? ''}" is not supported yet`);
    }
    const aliases = body.aliases ?? [];
    await checkAliases(aliases.map((a) => a.name));
    // A snapshot is named "instance/snapshot"; it can be published while the instance runs.
    const [instName, snapName] = source.type === 'snapshot' ? (source.name ?? '').split('/', 2) : [source.name ?? '', ''];
    if (source.type === 'snapshot' && !snapName) throw badRequest('Invalid snapshot name: use INSTANCE/SNAPSHOT');
    const rec = await s.instances.get(await projectOf(s, req), instName);
    if (!snapName) {
      const [st] = await s.drivers.states([rec]);
      if (st.pid > 0) throw badRequest('The instance is currently running, please stop it first');
    }
    const rt = await s.instances.runtime(rec);
    const volumePath = snapName ? await s.snapshots.path(rec, snapName) : rt.volumePath;
    const vm = rec.type === 'virtual-machine';
    // A VM's snapshot holds its disk as the volume does (dir, btrfs: root.img inside it).
    const vmDisk = !vm ? undefined : snapName ? join(volumePath, BLOCK_FILE) : rt.rootDisk;
    // The map the rootfs is owned by on disk: a snapshot keeps the one it was taken with.
    const diskConfig = snapName ? (await s.snapshots.get(rec, snapName)).config : rec.config;
    const diskIdmap = vm ? [] : parseIdmapJson(diskConfig['volatile.last_state.idmap'] ?? rec.config['volatile.last_state.idmap']);
    const op = s.ops.start({
      description: 'Publishing instance',
      project,
      resources: { instances: [instanceUrl(rec)] },
      run: () =>
        s.instances.locks.with(s.instances.lockKey(rec), async () => {
          const files = await buildPublishedImage(
            { volumePath, architecture: rec.architecture, diskIdmap, vmDisk },
            s.images.dir,
            { compression: body.compression_algorithm ?? '', properties: body.properties ?? {}, format: body.format ?? '' },
          );
          const img = await s.images.importFile(files.metadataFile, { ...opts, filename: body.filename ?? '', public: body.public === true }, files.rootfsFile ?? undefined);
          await s.db.transaction(async (tx) => {
            for (const a of aliases) await tx.images.addAlias(project, a.name, img.id, a.description ?? '');
          });
          s.events.lifecycle('image-created', `/1.0/images/${img.fingerprint}`, project);
          return { fingerprint: img.fingerprint, size: img.size };
        }),
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get<FpParams>('/1.0/images/:fingerprint', async (req, reply) => {
    const rec = visible(req, await s.images.byFingerprint(await featureProjectOf(s, req, 'images'), req.params.fingerprint));
    setEtag(reply, imageEtag(rec));
    return syncResponse(await s.images.toApi(rec));
  });

  /** Reads the image, checks If-Match, merges and writes in one transaction (a concurrent PATCH is never lost). */
  const update = (merge: boolean) => async (req: FastifyRequest<FpParams>) => {
    const project = await featureProjectOf(s, req, 'images');
    const rec = await s.db.transaction(async (tx) => {
      const rec = await imageOf(tx, project, req.params.fingerprint);
      checkIfMatch(req, imageEtag(rec));
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
      await tx.images.update(next);
      return rec;
    });
    s.events.lifecycle('image-updated', `/1.0/images/${rec.fingerprint}`, rec.project);
    return syncResponse({});
  };
  app.put<FpParams>('/1.0/images/:fingerprint', { schema: { body: imagePutSchema } }, update(false));
  app.patch<FpParams>('/1.0/images/:fingerprint', { schema: { body: imagePutSchema } }, update(true));

  app.delete<FpParams>('/1.0/images/:fingerprint', async (req, reply) => {
    const rec = await s.images.byFingerprint(await featureProjectOf(s, req, 'images'), req.params.fingerprint);
    const op = s.ops.start({
      description: 'Deleting image',
      project: rec.project,
      resources: { images: [`/1.0/images/${rec.fingerprint}`] },
      run: async () => {
        // Another project's image of the same fingerprint keeps the files (Incus removes only this project's row then).
        let shared = false;
        for (const p of await s.db.projects.list()) {
          const other = p.name === rec.project ? undefined : await s.db.images.findByPrefix(p.name, rec.fingerprint);
          if (typeof other === 'object' && other.fingerprint === rec.fingerprint) {
            shared = true;
            break;
          }
        }
        if (shared) {
          await s.db.images.delete(rec.id);
        } else {
          const holders = s.cluster.clustered ? await s.db.images.holders(rec.fingerprint) : [];
          await s.pools.deleteImageVolumes(rec.fingerprint);
          await s.images.delete(rec);
          // The other members holding its files (and image volumes) drop them too.
          await forgetImageOnMembers(s, rec.fingerprint, holders);
        }
        s.events.lifecycle('image-deleted', `/1.0/images/${rec.fingerprint}`, rec.project);
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  });

  app.get<FpParams>('/1.0/images/:fingerprint/export', async (req, reply) => {
    const rec = visible(req, await s.images.byFingerprint(await featureProjectOf(s, req, 'images'), req.params.fingerprint));
    // A one-time secret (image copy between servers) is used up by the download.
    const secret = (req.query as { secret?: string }).secret;
    if (secret) s.imageRemote.secrets.check(rec.project, rec.fingerprint, secret, true);
    const rootfs = s.images.rootfsPath(rec.fingerprint);
    if (rootfs) return sendSplitExport(reply, s.images.path(rec.fingerprint), rootfs, rec.fingerprint, rec.type);
    // Incus names the download after the fingerprint and the content's compression, never the uploaded filename.
    const name = `${rec.fingerprint}${await imageFileExtension(s.images.path(rec.fingerprint))}`;
    return reply
      .header('Content-Type', 'application/octet-stream')
      .header('Content-Disposition', `attachment; filename=${name}`)
      .header('Content-Length', String(rec.size))
      .send(createReadStream(s.images.path(rec.fingerprint)));
  });
}
