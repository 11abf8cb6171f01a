/**
 * The sending side of an instance migration (`POST /1.0/instances/{name}`
 * with `migration: true`): offer the pool's transports and the snapshots,
 * read the target's answer, send the volume as answered, then wait for the
 * target's verdict. Any failure here goes to the target as a control
 * message before the sockets drop; the instance itself is never changed.
 */
import type { InstanceRecord } from '../db/instances';
import { StatusError } from '../errors';
import { BackupManager } from '../instance/backups';
import type { DaemonState } from '../state';
import { storageName } from '../storage/volume-names';
import type { MigrationConns } from './conns';
import { receiveHeader, receiveResult, sendHeader, transferThenVerdict } from './control';
import { sourceSession } from './session';
import { idmapToHeader } from './idmap-header';
import { TransferProgress, type Report } from './progress';
import { CriuType, FS_TYPE_NAMES, FsType, type MigrationHeader } from './proto';
import { snapshotToProto } from './snapshots';
import { INDEX_HEADER_VERSION, matchTypes, poolMigrationTypes, typesToHeader } from './types';
import { sendVolume, type VolumeRef } from './volume-transfer';

export interface SourceOptions {
  instanceOnly: boolean;
  /** Send this snapshot's content as the instance (no snapshots, never running). */
  snapshot?: string;
  /** Where the report of progress goes (the operation's metadata). */
  report?: Report;
  signal?: AbortSignal;
}

/** The instance's root volume as a transfer end. */
export async function instanceVolume(s: DaemonState, rec: InstanceRecord): Promise<VolumeRef> {
  const vol = await s.pools.volumeOf(rec.project, rec.type, rec.name);
  if (!vol) throw new StatusError(500, `Instance "${rec.name}" has no root volume`);
  const pool = await s.pools.get(vol.pool);
  return {
    sd: s.pools.driver(pool),
    spec: s.pools.spec(pool),
    type: rec.type,
    name: storageName(rec.project, rec.name),
    contentType: rec.type === 'virtual-machine' ? 'block' : 'filesystem',
    label: rec.name,
  };
}

/** Runs the source side over `conns`; resolves once the target confirmed. */
export async function migrateInstanceSource(s: DaemonState, rec: InstanceRecord, conns: MigrationConns, o: SourceOptions): Promise<void> {
  await sourceSession(conns, o.signal, async (ctrl, fs) => {
    const [st] = o.snapshot === undefined ? await s.drivers.states([rec]) : [];
    const running = (st?.pid ?? 0) > 0;
    const vol = await instanceVolume(s,rec);
    const pool = await s.pools.get(vol.spec.name);
    const ours = poolMigrationTypes(vol.sd.info, pool.config, vol.contentType);
    const all = await s.db.snapshots.list(rec.id);
    const snaps = o.instanceOnly || o.snapshot !== undefined ? [] : all;
    const offer: MigrationHeader = {
      ...typesToHeader(ours),
      indexHeaderVersion: INDEX_HEADER_VERSION,
      predump: false,
      // A running instance: the target expects a final sync of the volume after the first pass.
      ...(running ? { criu: CriuType.NONE } : {}),
      ...(rec.type === 'container' ? { idmap: idmapToHeader(rec.config['volatile.last_state.idmap']) } : {}),
      snapshotNames: snaps.map((x) => x.name),
      snapshots: snaps.map(snapshotToProto),
    };
    await sendHeader(ctrl, offer);
    const answer = await receiveHeader(ctrl);
    const [type] = matchTypes(answer, FsType.RSYNC, ours);
    s.log.info('Migration transport negotiated', { instance: rec.name, side: 'source', type: FS_TYPE_NAMES[type!.fs] ?? String(type!.fs), features: type!.features.join(',') });
    // A refresh sends only what the target asked for.
    const names = answer.refresh ? (answer.snapshotNames ?? []) : (offer.snapshotNames ?? []);
    const index = await new BackupManager(s.instances, s.varDir).index(rec, names);
    // The target's verdict may come early (a failure): it ends the transfer at once.
    const verdict = receiveResult(ctrl, 'target');
    const progress = new TransferProgress(o.report);
    const transfer = sendVolume(fs, vol, {
      type: type!,
      snapshots: names,
      index: { version: answer.indexHeaderVersion ?? 0, info: { config: index.config } },
      // btrfs sends a read-only snapshot of the volume: consistent in one pass.
      finalSync: running && answer.criu === CriuType.NONE && type!.fs === FsType.RSYNC,
      refresh: answer.refresh === true,
      // Without snapshots (instance-only) the target may hold none: no parent to delta against (as Incus's VolumeOnly).
      allSnapshots: snaps.map((x) => x.name),
      ...(o.snapshot !== undefined ? { from: o.snapshot } : {}),
      progress,
    });
    await transferThenVerdict(transfer, verdict);
    s.events.lifecycle('instance-migrated', `/1.0/instances/${rec.name}`, rec.project);
  });
}
