/**
 * `POST /1.0/storage-pools/{pool}/volumes[/custom]` with an octet-stream
 * body: `X-Incus-type: iso` makes a custom volume of content type "iso"
 * from the ISO image sent (Incus's CreateCustomVolumeFromISO), named by
 * `X-Incus-name` and sized to the image. The body lands in a temporary file
 * first (its size is the volume's), then the operation creates the volume.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PoolRecord } from '../../db/storage-pools';
import { badRequest, StatusError } from '../../errors';
import { allowVolumeCreation } from '../../projects/permissions';
import { asyncResponse } from '../../response';
import type { DaemonState } from '../../state';
import { volumeDiskName } from '../../storage/volume-names';
import type { StorageVolumes } from '../../storage/volumes';
import { incusHeader } from '../request';
import { projectSuffix } from '../../projects/used-by';

export async function postVolumeImport(s: DaemonState, vols: StorageVolumes, pool: PoolRecord, project: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const type = incusHeader(req, 'type') || 'backup';
  if (type !== 'iso') throw new StatusError(501, 'Importing custom volume backups is not supported');
  const name = incusHeader(req, 'name') ?? '';
  if (!name) throw badRequest('Missing volume name');
  const base = join(s.varDir, 'backups');
  await mkdir(base, { recursive: true, mode: 0o700 });
  const tmp = await mkdtemp(join(base, 'iso_'));
  const file = join(tmp, 'image.iso');
  try {
    await pipeline(req.body as Readable, createWriteStream(file, { mode: 0o600 }));
    const size = String((await stat(file)).size);
    await allowVolumeCreation(s.db, project, pool.name, { name, config: { size } });
    await vols.checkNew(pool, project, { name, contentType: 'iso', config: { size } });
    const url = `/1.0/storage-pools/${pool.name}/volumes/custom/${name}${projectSuffix(project)}`;
    const op = s.ops.start({
      description: 'Creating storage volume from ISO',
      project,
      resources: { storage_volumes: [url] },
      run: async () => {
        try {
          const v = await vols.create(pool, project, { name, contentType: 'iso', description: '', config: { size } });
          try {
            await copyFile(file, s.pools.driver(pool).blockPath(s.pools.spec(pool), 'custom', volumeDiskName('custom', project, name)));
          } catch (err) {
            await vols.delete(pool, v).catch(() => undefined);
            throw err;
          }
          s.events.lifecycle('storage-volume-created', url, project);
        } finally {
          await rm(tmp, { recursive: true, force: true });
        }
      },
    });
    return reply.code(202).header('Location', `/1.0/operations/${op.id}`).send(asyncResponse(op));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
