/**
 * The optimized btrfs transport (Incus's MigrationFSType_BTRFS): a JSON
 * header naming the subvolumes (each snapshot, then the volume, with their
 * UUIDs), answered on a refresh with the ones the target wants; then one
 * `btrfs send` stream per subvolume, each a delta against the one before
 * it, each ended by a barrier. The receiver runs `btrfs receive -e` into a
 * private directory and puts the subvolumes in place only when all arrived.
 */
import type { Reverter } from '../revert';
import { btrfsReceive, btrfsSend, receiveSubvolumes, restorationHeader, sendSubvolumes, type SubVolume, type SubvolumePaths } from '../storage/drivers/btrfs-stream';
import type { MigrationChannel } from './channel';
import type { TransferProgress } from './progress';
import type { VolumeRef } from './volume-transfer';

const hasFeature = (features: readonly string[], f: string): boolean => features.includes(f);

function pathsOf(v: VolumeRef): SubvolumePaths {
  return { volume: v.sd.volumePath(v.spec, v.type, v.name), snapshot: (s) => v.sd.snapshotPath(v.spec, v.type, v.name, s), mountPath: v.spec.mountPath };
}

export interface BtrfsSendOptions {
  features: readonly string[];
  snapshots: readonly string[];
  refresh: boolean;
  /** The source's snapshots in order (for the parent of a refresh's first delta). */
  allSnapshots: readonly string[];
  /** Send this snapshot as the volume. */
  from?: string;
  progress: TransferProgress;
}

/** Source side: header, snapshots in order, then a read-only snapshot of the volume. */
export async function sendBtrfs(fs: MigrationChannel, v: VolumeRef, o: BtrfsSendOptions): Promise<void> {
  const p = pathsOf(v);
  if (hasFeature(o.features, 'migration_header')) {
    await fs.send(Buffer.from(JSON.stringify({ subvolumes: await restorationHeader(p, o.snapshots) })));
    fs.barrier();
  }
  let snapshots = o.snapshots;
  if (o.refresh && hasFeature(o.features, 'header_subvolume_uuids')) {
    const wanted = JSON.parse((await fs.readAll()).toString() || '{}') as { subvolumes?: SubVolume[] };
    snapshots = (wanted.subvolumes ?? []).filter((x) => x.path === '/' && x.snapshot !== '').map((x) => x.snapshot);
  }
  // A refresh's first delta is against the snapshot before it, which the target already has.
  let parent = '';
  if (o.refresh) {
    const first = snapshots[0];
    const at = first === undefined ? o.allSnapshots.length : o.allSnapshots.indexOf(first);
    if (at > 0) parent = p.snapshot(o.allSnapshots[at - 1]!);
  }
  await sendSubvolumes(p, snapshots, { parent, from: o.from, tmpPrefix: 'migration.', frozenName: '.migration-send' }, (path, par, s) => {
    const onBytes = o.progress.stream('fs_progress', s === undefined ? v.label : `${v.label}/${s}`);
    return btrfsSend(path, par, async (out) => {
      await fs.pipeFrom(out, onBytes);
    });
  });
}

export interface BtrfsReceiveOptions {
  features: readonly string[];
  /** Snapshots the control channel agreed on. */
  snapshots: readonly string[];
  refresh: boolean;
  progress: TransferProgress;
  r: Reverter;
}

/** Target side: the subvolumes land in a private directory, then take their places. */
export async function receiveBtrfs(fs: MigrationChannel, v: VolumeRef, o: BtrfsReceiveOptions): Promise<void> {
  let subvolumes: SubVolume[];
  if (hasFeature(o.features, 'migration_header')) {
    subvolumes = (JSON.parse((await fs.readAll()).toString() || '{}') as { subvolumes?: SubVolume[] }).subvolumes ?? [];
  } else {
    subvolumes = [...o.snapshots.map((s) => ({ path: '/', snapshot: s, readonly: true, uuid: '' })), { path: '/', snapshot: '', readonly: false, uuid: '' }];
  }
  const nested = subvolumes.find((x) => x.path !== '/');
  if (nested) throw new Error(`Nested subvolume "${nested.path}" is not supported by this server`);
  let snapshots = subvolumes.filter((x) => x.snapshot !== '').map((x) => x.snapshot);
  if (o.refresh && hasFeature(o.features, 'header_subvolume_uuids')) {
    snapshots = snapshots.filter((s) => o.snapshots.includes(s));
    const wanted = subvolumes.filter((x) => x.snapshot === '' || snapshots.includes(x.snapshot));
    await fs.send(Buffer.from(JSON.stringify({ subvolumes: wanted })));
    fs.barrier();
  }
  await receiveSubvolumes(pathsOf(v), snapshots, { replace: o.refresh, tmpPrefix: 'migration.', r: o.r }, (dir, s) => {
    const onBytes = o.progress.stream('fs_progress', s === undefined ? v.label : `${v.label}/${s}`);
    return btrfsReceive(dir, async (stdin) => {
      await fs.pipeTo(stdin, onBytes);
      stdin.end();
    });
  });
  if (!o.refresh) o.r.add(() => v.sd.deleteVolume(v.spec, v.type, v.name));
}
