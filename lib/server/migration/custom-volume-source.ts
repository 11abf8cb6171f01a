/**
 * The sending side of a custom volume migration (`POST
 * /1.0/storage-pools/{pool}/volumes/custom/{name}` with `migration: true`),
 * as Incus's DoStorage: offer the pool's transports, the volume's size and
 * snapshots, send as the target answered, wait for its verdict.
 */
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { PoolRecord, VolumeRecord } from '../db/storage-pools';
import type { DaemonState } from '../state';
import { storedContentType } from '../storage/block-file';
import { customDiskName } from '../storage/volume-names';
import type { StorageVolumes } from '../storage/volumes';
import type { MigrationConns } from './conns';
import { receiveHeader, receiveResult, sendHeader, transferThenVerdict } from './control';
import { sourceSession } from './session';
import { TransferProgress, type Report } from './progress';
import { FS_TYPE_NAMES, type MigrationHeader } from './proto';
import { INDEX_HEADER_VERSION, fallbackType, matchTypes, poolMigrationTypes, typesToHeader } from './types';
import { volumeSnapshotToProto } from './volume-snapshots';
import { sendVolume, type VolumeRef } from './volume-transfer';

export interface VolumeSourceOptions {
  volumeOnly: boolean;
  /** Send this snapshot as the volume (no snapshots go with it). */
  snapshot?: string;
  report?: Report;
  signal?: AbortSignal;
}

/** A custom volume as a transfer end. */
export function customVolumeRef(s: DaemonState, pool: PoolRecord, project: string, name: string, contentType: string): VolumeRef {
  return {
    sd: s.pools.driver(pool),
    spec: s.pools.spec(pool),
    type: 'custom',
    name: customDiskName({ project, name, contentType }),
    contentType: storedContentType(contentType),
    label: name,
  };
}

/** Runs the source side over `conns`; resolves once the target confirmed. */
export async function migrateVolumeSource(s: DaemonState, vols: StorageVolumes, pool: PoolRecord, v: VolumeRecord, conns: MigrationConns, o: VolumeSourceOptions): Promise<void> {
  await sourceSession(conns, o.signal, async (ctrl, fs) => {
    const ref = customVolumeRef(s, pool, v.project, v.name, v.contentType);
    const ours = poolMigrationTypes(ref.sd.info, pool.config, ref.contentType);
    const all = (await vols.snapshots.list(pool,v)).map((x) => ({ ...vols.snapshots.toApi(x), createdAt: x.createdAt, rawConfig: x.config }));
    const snaps = o.volumeOnly || o.snapshot !== undefined ? [] : all;
    const disk = o.snapshot === undefined ? ref.sd.blockPath(ref.spec, 'custom', ref.name) : join(ref.sd.snapshotPath(ref.spec, 'custom', ref.name, o.snapshot), basename(ref.sd.blockPath(ref.spec, 'custom', ref.name)));
    const volumeSize = ref.contentType === 'block' ? (await stat(disk)).size : 0;
    const offer: MigrationHeader = {
      ...typesToHeader(ours),
      indexHeaderVersion: INDEX_HEADER_VERSION,
      volumeSize,
      snapshotNames: snaps.map((x) => x.name),
      snapshots: snaps.map((x) => volumeSnapshotToProto({ name: x.name, config: x.rawConfig, createdAt: x.createdAt })),
    };
    await sendHeader(ctrl, offer);
    const answer = await receiveHeader(ctrl);
    const [type] = matchTypes(answer, fallbackType(ref.contentType), ours);
    s.log.info('Migration transport negotiated', { volume: v.name, side: 'source', type: FS_TYPE_NAMES[type!.fs] ?? String(type!.fs), features: type!.features.join(',') });
    // A refresh sends only what the target asked for.
    const names = answer.refresh ? (answer.snapshotNames ?? []) : (offer.snapshotNames ?? []);
    const verdict = receiveResult(ctrl, 'target');
    const transfer = sendVolume(fs, ref, {
      type: type!,
      snapshots: names,
      // Incus's index frame for a volume: its backup config (the volume and the snapshots sent).
      index: { version: answer.indexHeaderVersion ?? 0, info: { config: { volume: await vols.toApi(v), volume_snapshots: all.filter((x) => names.includes(x.name)).map(({ createdAt: _c, rawConfig: _r, ...api }) => api) } } },
      finalSync: false,
      refresh: answer.refresh === true,
      allSnapshots: snaps.map((x) => x.name),
      from: o.snapshot,
      progress: new TransferProgress(o.report),
    });
    await transferThenVerdict(transfer, verdict);
  });
}
