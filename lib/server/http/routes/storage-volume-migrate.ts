/**
 * The two ends of a custom volume migration as operations. The source
 * (`POST .../volumes/custom/{name}` with `migration: true`) waits for the
 * target on a websocket operation (pull, relay) or dials the target's
 * operation (push: `target` in the body). The target (`POST .../volumes`
 * with `source.type: migration`) dials the source (pull) or waits (push).
 */
import type { FastifyReply } from 'fastify';
import type { StorageVolumePost, StorageVolumesPost } from '../../../api/storage-volume';
import type { PoolRecord, VolumeRecord } from '../../db/storage-pools';
import { badRequest } from '../../errors';
import { migrateVolumeSource } from '../../migration/custom-volume-source';
import { planVolumeSink, runVolumeSink } from '../../migration/custom-volume-sink';
import type { DaemonState } from '../../state';
import { replyMigrationOp, sourceConns } from './migration-op';
import type { StorageVolumes } from '../../storage/volumes';

const volumeUrl = (pool: string, project: string, name: string): string =>
  `/1.0/storage-pools/${pool}/volumes/custom/${name}${project === 'default' ? '' : `?project=${project}`}`;

/** Source side: answers 202 with the operation; with `snapshot`, that snapshot goes as a volume of its own. */
export function postVolumeMigrateSource(s: DaemonState, vols: StorageVolumes, pool: PoolRecord, v: VolumeRecord, body: StorageVolumePost, reply: FastifyReply, snapshot?: string): FastifyReply {
  if (v.type !== 'custom') throw badRequest(`Storage volumes of type "${v.type}" cannot be migrated with the storage API`);
  const { conns, waits } = sourceConns(s, body.target);
  return replyMigrationOp(s, reply, {
    conns,
    waits,
    description: 'Migrating storage volume',
    project: v.project,
    resources: { storage_volumes: [volumeUrl(pool.name, v.project, v.name)] },
    run: (report, signal) => migrateVolumeSource(s, vols, pool, v, conns, { volumeOnly: body.volume_only === true, snapshot, report, signal }),
  });
}

/** Target side: checked before answering; the volume appears only once everything arrived. */
export async function postVolumeMigrateSink(s: DaemonState, vols: StorageVolumes, pool: PoolRecord, project: string, body: StorageVolumesPost, reply: FastifyReply): Promise<FastifyReply> {
  const plan = await planVolumeSink(s, vols, pool, project, body);
  const url = volumeUrl(pool.name, project, plan.name);
  return replyMigrationOp(s, reply, {
    conns: plan.conns,
    waits: plan.push,
    description: 'Copying storage volume',
    project,
    resources: { storage_volumes: [url] },
    run: async (report, signal) => {
      await runVolumeSink(s, vols, plan, report, signal);
      s.events.lifecycle('storage-volume-created', url, project);
    },
  });
}
