/**
 * The optimized btrfs transport (Incus's MigrationFSType_BTRFS): a JSON
 * header naming the subvolumes (each snapshot, then the volume, with their
 * UUIDs), answered on a refresh with the ones the target wants; then one
 * `btrfs send` stream per subvolume, each a delta against the one before
 * it, each ended by a barrier. The receiver runs `btrfs receive -e` into a
 * private directory and puts the subvolumes in place only when all arrived.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Reverter } from '../revert';
import * as bt from '../storage/drivers/btrfs-tools';
import type { MigrationChannel } from './channel';
import type { TransferProgress } from './progress';
import type { VolumeRef } from './volume-transfer';

/** Incus's BTRFSSubVolume: `path` inside the volume, the snapshot it belongs to ('' = the volume). */
interface SubVolume {
  path: string;
  snapshot: string;
  readonly: boolean;
  uuid: string;
}

const hasFeature = (features: readonly string[], f: string): boolean => features.includes(f);

function collect(child: ReturnType<typeof spawn>): () => string {
  let text = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (text.length < 4096) text += b.toString();
  });
  return () => text.trim();
}

function exited(child: ReturnType<typeof spawn>): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (code) => resolve(code ?? -1));
  });
}

/** One `btrfs send [-p parent] path` onto the channel, ended by a barrier. */
async function sendSubvolume(fs: MigrationChannel, path: string, parent: string, onBytes: (n: number) => void): Promise<void> {
  const child = spawn('btrfs', ['send', ...(parent ? ['-p', parent] : []), path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = collect(child);
  const code = exited(child);
  try {
    await fs.pipeFrom(child.stdout!, onBytes);
  } catch (err) {
    child.kill('SIGKILL');
    await code;
    throw err;
  }
  if ((await code) !== 0) throw new Error(`Btrfs send failed: ${path}: ${stderr()}`);
}

/** One stream from the channel into `btrfs receive -e dir`; resolves with what it created there. */
async function receiveSubvolume(fs: MigrationChannel, dir: string, onBytes: (n: number) => void): Promise<void> {
  const child = spawn('btrfs', ['receive', '-e', dir], { stdio: ['pipe', 'ignore', 'pipe'] });
  const stderr = collect(child);
  const code = exited(child);
  child.stdin!.on('error', () => undefined);
  try {
    await fs.pipeTo(child.stdin!, onBytes);
  } catch (err) {
    child.kill('SIGKILL');
    await code;
    throw err;
  }
  child.stdin!.end();
  if ((await code) !== 0) throw new Error(`Btrfs receive failed: ${stderr()}`);
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
  const volPath = v.sd.volumePath(v.spec, v.type, v.name);
  const snapPath = (s: string): string => v.sd.snapshotPath(v.spec, v.type, v.name, s);
  const uuids = await bt.subvolumeUuids(v.spec.mountPath);
  const header: SubVolume[] = [
    ...o.snapshots.map((s) => ({ path: '/', snapshot: s, readonly: true, uuid: uuids.get(snapPath(s))?.uuid ?? '' })),
    { path: '/', snapshot: '', readonly: false, uuid: uuids.get(volPath)?.uuid ?? '' },
  ];
  if (hasFeature(o.features, 'migration_header')) {
    await fs.send(Buffer.from(JSON.stringify({ subvolumes: header })));
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
    if (at > 0) parent = snapPath(o.allSnapshots[at - 1]!);
  }
  for (const s of snapshots) {
    await sendSubvolume(fs, snapPath(s), parent, o.progress.stream('fs_progress', `${v.label}/${s}`));
    parent = snapPath(s);
  }
  // Only a read-only subvolume can be sent: a snapshot of the volume as it is now.
  const tmp = await mkdtemp(join(dirname(volPath), 'migration.'));
  await chmod(tmp, 0o100);
  const frozen = join(tmp, '.migration-send');
  try {
    await bt.subvolumeSnapshot(o.from === undefined ? volPath : snapPath(o.from), frozen, true);
    await sendSubvolume(fs, frozen, parent, o.progress.stream('fs_progress', v.label));
  } finally {
    if (await bt.isSubvolume(frozen)) await bt.subvolumeDelete(frozen).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
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
  const volPath = v.sd.volumePath(v.spec, v.type, v.name);
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
  for (const s of snapshots) {
    // Received straight into the snapshot folder under its own name: it keeps its read-only flag and
    // received UUID, by which the next stream (and later refreshes) find it as their parent.
    const dest = v.sd.snapshotPath(v.spec, v.type, v.name, s);
    if (basename(dest) !== s) throw new Error(`Invalid snapshot name "${s}"`);
    await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
    o.r.add(async () => {
      if (await bt.isSubvolume(dest)) await bt.subvolumeDelete(dest);
    });
    await receiveSubvolume(fs, dirname(dest), o.progress.stream('fs_progress', `${v.label}/${s}`));
    if (!(await bt.isSubvolume(dest))) throw new Error(`Failed to determine received subvolume for snapshot "${s}"`);
  }
  // The volume arrives read-only in a private folder; a writable snapshot of it takes its place.
  const tmp = await mkdtemp(join(dirname(volPath), 'migration.'));
  await chmod(tmp, 0o100);
  const main = join(tmp, '.migration-send');
  try {
    await receiveSubvolume(fs, tmp, o.progress.stream('fs_progress', v.label));
    if (!(await bt.isSubvolume(main))) throw new Error(`Failed to determine received subvolume for "${v.label}"`);
    if (o.refresh && (await bt.isSubvolume(volPath))) await bt.subvolumeDelete(volPath);
    await bt.subvolumeSnapshot(main, volPath, false);
    if (!o.refresh) o.r.add(() => v.sd.deleteVolume(v.spec, v.type, v.name));
  } finally {
    if (await bt.isSubvolume(main)) await bt.subvolumeDelete(main).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}
