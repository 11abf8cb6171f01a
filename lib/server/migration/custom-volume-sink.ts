/**
 * The receiving side of a custom volume migration (`POST
 * /1.0/storage-pools/{pool}/volumes` with `source.type: migration`):
 * checked before the operation starts; the disk and its snapshots arrive
 * first and the rows go in last, so a failure leaves nothing behind. A
 * refresh of an existing volume asks only for the snapshots it lacks.
 */
import type { StorageVolumesPost } from '../../api/storage-volume';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import { badRequest, StatusError } from '../errors';
import { Reverter } from '../revert';
import type { DaemonState } from '../state';
import type { StorageVolumes } from '../storage/volumes';
import { connsFor, type MigrationConns } from './conns';
import { receiveHeader, sendHeader } from './control';
import { receiveUnlessSourceFails, sinkSession } from './session';
import { customVolumeRef } from './custom-volume-source';
import { TransferProgress, type Report } from './progress';
import { FS_TYPE_NAMES, type MigrationHeader } from './proto';
import { compareSnapshots } from './snapshots';
import { INDEX_HEADER_VERSION, fallbackType, matchTypes, poolMigrationTypes, typesToHeader } from './types';
import { protoSeconds, volumeSnapshotFromProto } from './volume-snapshots';
import { receiveVolume } from './volume-transfer';

export interface VolumeSinkPlan {
  pool: PoolRecord;
  project: string;
  name: string;
  contentType: string;
  description: string;
  config: Record<string, string>;
  /** The volume a refresh updates. */
  existing: VolumeRecord | null;
  push: boolean;
  volumeOnly: boolean;
  refreshExcludeOlder: boolean;
  conns: MigrationConns;
}

/** Checks the request (400/409/501) and sets up the connections; nothing is created yet. */
export async function planVolumeSink(s: DaemonState, vols: StorageVolumes, pool: PoolRecord, project: string, req: StorageVolumesPost): Promise<VolumeSinkPlan> {
  const src = req.source!;
  const mode = src.mode || 'pull';
  if (mode !== 'pull' && mode !== 'push') throw new StatusError(501, `Mode "${mode}" not implemented`);
  const contentType = req.content_type || 'filesystem';
  const config = req.config ?? {};
  const found = await s.db.pools.volume(pool.name, project, 'custom', req.name);
  let existing: VolumeRecord | null = null;
  if (src.refresh && found) {
    if (found.contentType !== contentType) throw badRequest(`Volume "${req.name}" already exists with content type "${found.contentType}"`);
    existing = found;
  } else await vols.checkNew(pool, project, { name: req.name, contentType, config });
  if (mode === 'pull' && !src.operation) throw badRequest('Missing migration source operation URL');
  return {
    pool,
    project,
    name: req.name,
    contentType,
    description: req.description ?? '',
    config,
    existing,
    push: mode === 'push',
    volumeOnly: src.volume_only === true,
    refreshExcludeOlder: src.refresh_exclude_older === true,
    conns: connsFor(['control', 'fs'], mode === 'push' ? null : src, s.keypair),
  };
}

/** Runs the target side; resolves once the volume's rows are in. */
export async function runVolumeSink(s: DaemonState, vols: StorageVolumes, plan: VolumeSinkPlan, report?: Report, signal?: AbortSignal): Promise<void> {
  const { pool } = plan;
  const r = new Reverter();
  await sinkSession(plan.conns, signal, 'Error transferring storage volume', () => r.fail(), async (ctrl, fs) => {
    const offer = await receiveHeader(ctrl);
    const ref = customVolumeRef(s, pool, plan.project, plan.name, plan.contentType);
    const refresh = plan.existing !== null;
    const types = matchTypes({ ...offer, refresh }, fallbackType(ref.contentType), poolMigrationTypes(ref.sd.info, pool.config, ref.contentType));
    s.log.info('Migration transport negotiated', { volume: plan.name, side: 'target', type: FS_TYPE_NAMES[types[0]!.fs] ?? String(types[0]!.fs), features: types[0]!.features.join(',') });
    const offered = plan.volumeOnly ? [] : (offer.snapshots ?? []);
    let wanted = offered;
    if (plan.existing) {
      const have = await vols.snapshots.list(pool,plan.existing);
      const cmp = compareSnapshots(
        offered.map((x) => ({ name: x.name, created: protoSeconds(x.creation_date) })),
        have.map((x) => ({ name: x.name.split('/')[1]!, created: Math.floor(Date.parse(x.createdAt) / 1000) })),
        plan.refreshExcludeOlder,
      );
      for (const name of cmp.remove) await vols.snapshots.delete(pool, plan.existing, name);
      wanted = offered.filter((x) => cmp.sync.includes(x.name));
    }
    const answer: MigrationHeader = {
      ...typesToHeader(types),
      indexHeaderVersion: Math.min(offer.indexHeaderVersion ?? 0, INDEX_HEADER_VERSION),
      snapshotNames: wanted.map((x) => x.name),
      snapshots: wanted,
      refresh,
      volumeSize: offer.volumeSize ?? 0,
    };
    await sendHeader(ctrl, answer);
    const transfer = receiveVolume(fs, ref, {
      type: types[0]!,
      snapshots: wanted.map((x) => x.name),
      indexVersion: answer.indexHeaderVersion ?? 0,
      refresh,
      finalSync: false,
      ...(offer.volumeSize ? { blockSize: offer.volumeSize } : {}),
      progress: new TransferProgress(report),
      r,
    });
    // The source never speaks again unless it failed: anything on control now ends the transfer.
    await receiveUnlessSourceFails(ctrl, fs, transfer);
    const snapshots = wanted.map((x) => volumeSnapshotFromProto(x, plan.description));
    if (plan.existing) {
      const v = plan.existing;
      await s.db.transaction(async (tx) => {
        for (const snap of snapshots) await tx.pools.createVolume({ pool: pool.name, project: v.project, name: `${v.name}/${snap.name}`, type: 'custom', contentType: v.contentType, description: snap.description, config: snap.config, createdAt: snap.createdAt });
      });
    } else {
      await vols.adopt(pool, plan.project, { name: plan.name, contentType: plan.contentType, description: plan.description, config: plan.config }, snapshots);
    }
    r.success();
  });
}
