/**
 * `btrfs send` and `btrfs receive` of a volume with its snapshots, shared
 * by migration (streams over a websocket) and optimized backups (streams
 * in a tarball): the restoration header naming the subvolumes, snapshots
 * oldest first each a delta from the one before, then the volume through a
 * read-only snapshot of it. The processes run as children fed through
 * streams, so the event loop never waits on them; a half-received
 * subvolume is deleted. See btrfs-send(8), btrfs-receive(8).
 */
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { basename, dirname, join } from 'node:path';
import { runPiped } from '../../images/run';
import type { Reverter } from '../../revert';
import * as bt from './btrfs-tools';

/** Incus's BTRFSSubVolume: `path` inside the volume, the snapshot it belongs to ('' = the volume). */
export interface SubVolume {
  path: string;
  snapshot: string;
  readonly: boolean;
  uuid: string;
}

/** Where a volume and its snapshots are. */
export interface SubvolumePaths {
  volume: string;
  snapshot(name: string): string;
  /** The pool's mount path (for `btrfs subvolume list`). */
  mountPath: string;
}

/** `btrfs send [-p parent] path`, its stream handed to `sink` (which resolves once it has read it all). */
export async function btrfsSend(path: string, parent: string, sink: (out: Readable) => Promise<void>): Promise<void> {
  await runPiped('btrfs', ['send', ...(parent ? ['-p', parent] : []), path], ['ignore', 'pipe', 'pipe'], `Btrfs send failed: ${path}`, (c) => sink(c.stdout!));
}

/**
 * `btrfs receive -e dir`, fed by `source` (which ends the stream it is
 * given); resolves with the path of the one subvolume it made in `dir`.
 * On failure whatever it left there is deleted.
 */
export async function btrfsReceive(dir: string, source: (stdin: Writable) => Promise<void>): Promise<string> {
  const before = new Set(await readdir(dir));
  const added = async (): Promise<string[]> => (await readdir(dir)).filter((e) => !before.has(e)).map((e) => join(dir, e));
  try {
    await runPiped('btrfs', ['receive', '-e', dir], ['pipe', 'ignore', 'pipe'], 'Btrfs receive failed', async (c) => {
      c.stdin!.on('error', () => undefined);
      await source(c.stdin!);
    });
    const made = await added();
    if (made.length !== 1) throw new Error('Failed to determine received subvolume');
    return made[0]!;
  } catch (err) {
    for (const p of await added().catch(() => [])) {
      if (await bt.isSubvolume(p)) await bt.subvolumeDelete(p).catch(() => undefined);
      else await rm(p, { recursive: true, force: true });
    }
    throw err;
  }
}

/** The header Incus sends and stores before the streams: each snapshot's root subvolume, then the volume's, with UUIDs. */
export async function restorationHeader(p: SubvolumePaths, snapshots: readonly string[]): Promise<SubVolume[]> {
  const uuids = await bt.subvolumeUuids(p.mountPath);
  return [
    ...snapshots.map((s) => ({ path: '/', snapshot: s, readonly: true, uuid: uuids.get(p.snapshot(s))?.uuid ?? '' })),
    { path: '/', snapshot: '', readonly: false, uuid: uuids.get(p.volume)?.uuid ?? '' },
  ];
}

export interface SendOptions {
  /** The first snapshot's delta parent (a refresh: the newest snapshot the target has). */
  parent?: string;
  /** Send this snapshot as the volume. */
  from?: string;
  /** Prefix of the private folder beside the volume holding its read-only snapshot. */
  tmpPrefix: string;
  /** That snapshot's name (Incus: `.migration-send`, `.backup`). */
  frozenName: string;
}

/**
 * Snapshots in order, then a read-only snapshot of the volume (only a
 * read-only subvolume can be sent), each by `send(path, parent, snapshot)`
 * with snapshot undefined for the volume.
 */
export async function sendSubvolumes(
  p: SubvolumePaths,
  snapshots: readonly string[],
  o: SendOptions,
  send: (path: string, parent: string, snapshot: string | undefined) => Promise<void>,
): Promise<void> {
  let parent = o.parent ?? '';
  for (const s of snapshots) {
    await send(p.snapshot(s), parent, s);
    parent = p.snapshot(s);
  }
  const tmp = await mkdtemp(join(dirname(p.volume), o.tmpPrefix));
  await chmod(tmp, 0o100);
  const frozen = join(tmp, o.frozenName);
  try {
    await bt.subvolumeSnapshot(o.from === undefined ? p.volume : p.snapshot(o.from), frozen, true);
    await send(frozen, parent, undefined);
  } finally {
    if (await bt.isSubvolume(frozen)) await bt.subvolumeDelete(frozen).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}

export interface ReceiveOptions {
  /** The volume is there already (a refresh): replaced by the one received. */
  replace: boolean;
  /** Prefix of the private folder beside the volume where it is received. */
  tmpPrefix: string;
  /** Undo steps for each subvolume put in place. */
  r: Reverter;
}

/**
 * Snapshots in order, straight into their folder (so each keeps its
 * read-only flag and received UUID, by which the next delta finds its
 * parent), renamed there when the stream named it otherwise; then the
 * volume, received read-only in a private folder, a writable snapshot of
 * it put in its place. `receive(dir, snapshot)` runs one btrfs receive.
 */
export async function receiveSubvolumes(
  p: SubvolumePaths,
  snapshots: readonly string[],
  o: ReceiveOptions,
  receive: (dir: string, snapshot: string | undefined) => Promise<string>,
): Promise<void> {
  for (const s of snapshots) {
    const dest = p.snapshot(s);
    if (basename(dest) !== s) throw new Error(`Invalid snapshot name "${s}"`);
    await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
    if (await bt.isSubvolume(dest)) throw new Error(`Snapshot "${s}" already exists`);
    const got = await receive(dirname(dest), s);
    o.r.add(async () => {
      for (const x of [got, dest]) if (await bt.isSubvolume(x)) await bt.subvolumeDelete(x);
    });
    // A read-only subvolume can be renamed within its folder, not moved out of it.
    if (got !== dest) await rename(got, dest);
  }
  const tmp = await mkdtemp(join(dirname(p.volume), o.tmpPrefix));
  await chmod(tmp, 0o100);
  let got = '';
  try {
    got = await receive(tmp, undefined);
    if (o.replace && (await bt.isSubvolume(p.volume))) await bt.subvolumeDelete(p.volume);
    await bt.subvolumeSnapshot(got, p.volume, false);
  } finally {
    if (got && (await bt.isSubvolume(got))) await bt.subvolumeDelete(got).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true });
  }
}
