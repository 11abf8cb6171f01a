/**
 * One volume (with the snapshots asked for) over the `fs` channel, in the
 * order Incus's generic driver uses: the index frame and its answer, then
 * each snapshot (its tree by rsync, then for a block volume its disk as raw
 * bytes ending in a barrier), then the volume itself, then, for a running
 * container, a final rsync of the volume.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { basename, join } from 'node:path';
import type { Reverter } from '../revert';
import type { ContentType, PoolSpec, StorageDriver, VolumeType } from '../storage/interface';
import type { MigrationChannel } from './channel';
import type { TransferProgress } from './progress';
import { FsType } from './proto';
import { receiveBtrfs, sendBtrfs } from './btrfs-transfer';
import { rsyncReceive, rsyncSend } from './rsync';
import type { MigrationType } from './types';

/** A volume on one of our pools. */
export interface VolumeRef {
  sd: StorageDriver;
  spec: PoolSpec;
  type: VolumeType;
  /** The storage name (project prefixed). */
  name: string;
  contentType: ContentType;
  /** For progress lines: the instance or volume name the user knows. */
  label: string;
}

/** Incus's InfoResponse: the receiver's answer to the index frame. */
interface IndexAnswer {
  StatusCode: number;
  Error: string;
  Refresh?: boolean | null;
}

const hasBlock = (v: VolumeRef): boolean => v.type === 'virtual-machine' || v.contentType === 'block';
/** A custom block volume has no tree to rsync; a VM's config tree goes by rsync. */
const hasTree = (v: VolumeRef): boolean => !(v.type === 'custom' && v.contentType === 'block');
const diskOf = (v: VolumeRef, snap?: string): string =>
  snap === undefined ? v.sd.blockPath(v.spec, v.type, v.name) : join(v.sd.snapshotPath(v.spec, v.type, v.name, snap), basename(v.sd.blockPath(v.spec, v.type, v.name)));
const treeOf = (v: VolumeRef, snap?: string): string => (snap === undefined ? v.sd.volumePath(v.spec, v.type, v.name) : v.sd.snapshotPath(v.spec, v.type, v.name, snap));

function checkType(v: VolumeRef, t: MigrationType): void {
  const ok = hasBlock(v) ? t.fs === FsType.BLOCK_AND_RSYNC : t.fs === FsType.RSYNC || (t.fs === FsType.BTRFS && v.sd.info.name === 'btrfs');
  if (!ok) throw new Error(`Migration type ${t.fs} not supported for this volume`);
}

export interface SendOptions {
  type: MigrationType;
  snapshots: readonly string[];
  /** The index frame (Incus's Info: `{config: backup.yaml}`), sent when the peer speaks version 1. */
  index: { version: number; info: unknown };
  /** A second rsync of the volume after the first (a running container). */
  finalSync: boolean;
  /** The target holds an older copy (btrfs: deltas against the snapshots it has). */
  refresh?: boolean;
  /** Every snapshot of the source volume in order (btrfs: a refresh's first parent). */
  allSnapshots?: readonly string[];
  /** The volume's content comes from this snapshot (a snapshot copied as an instance). */
  from?: string;
  progress: TransferProgress;
}

/** Sends the volume; resolves with the receiver's answer to the index frame. */
export async function sendVolume(fs: MigrationChannel, v: VolumeRef, o: SendOptions): Promise<{ refresh: boolean | null }> {
  checkType(v, o.type);
  let refresh: boolean | null = null;
  if (o.index.version > 0) {
    await fs.send(Buffer.from(JSON.stringify(o.index.info)));
    fs.barrier();
    const answer = JSON.parse((await fs.readAll()).toString() || '{}') as IndexAnswer;
    if (answer.StatusCode !== 200) throw new Error(`Failed negotiating migration options: ${answer.Error || `status ${answer.StatusCode}`}`);
    refresh = answer.Refresh ?? null;
  }
  if (o.type.fs === FsType.BTRFS) {
    const refreshing = o.refresh === true || refresh === true;
    await sendBtrfs(fs, v, { features: o.type.features, snapshots: o.snapshots, refresh: refreshing, allSnapshots: o.allSnapshots ?? o.snapshots, from: o.from, progress: o.progress });
    return { refresh };
  }
  const exclude = v.type === 'virtual-machine' ? ['--exclude', basename(v.sd.blockPath(v.spec, v.type, v.name))] : [];
  const one = async (snap: string | undefined, label: string): Promise<void> => {
    if (hasTree(v)) await rsyncSend(fs, treeOf(v, snap), o.type.features, exclude, o.progress.stream('fs_progress', label));
    if (hasBlock(v)) await fs.pipeFrom(createReadStream(diskOf(v, snap), { highWaterMark: 1024 * 1024 }), o.progress.stream('block_progress', label));
  };
  for (const s of o.snapshots) await one(s, `${v.label}/${s}`);
  await one(o.from, v.label);
  if (o.finalSync && o.from === undefined && hasTree(v) && v.type !== 'virtual-machine') {
    await rsyncSend(fs, treeOf(v), o.type.features, exclude, o.progress.stream('fs_progress', v.label));
  }
  return { refresh };
}

export interface ReceiveOptions {
  type: MigrationType;
  snapshots: readonly string[];
  indexVersion: number;
  /** The volume exists already (refresh): received into, not created. */
  refresh: boolean;
  /** Expect the final rsync of a running container. */
  finalSync: boolean;
  /** Size of the block disk to create (bytes), when known. */
  blockSize?: number;
  progress: TransferProgress;
  /** Undo steps for what is created. */
  r: Reverter;
}

/** Receives the volume (creating it unless refreshing); resolves with the sender's index frame. */
export async function receiveVolume(fs: MigrationChannel, v: VolumeRef, o: ReceiveOptions): Promise<unknown> {
  checkType(v, o.type);
  let info: unknown = null;
  if (o.indexVersion > 0) {
    info = JSON.parse((await fs.readAll()).toString() || 'null');
    const answer: IndexAnswer = { StatusCode: 200, Error: '', Refresh: o.refresh };
    await fs.send(Buffer.from(JSON.stringify(answer)));
    fs.barrier();
  }
  if (o.type.fs === FsType.BTRFS) {
    await receiveBtrfs(fs, v, { features: o.type.features, snapshots: o.snapshots, refresh: o.refresh, progress: o.progress, r: o.r });
    return info;
  }
  if (!o.refresh) {
    await v.sd.createVolume(v.spec, v.type, v.name, { contentType: v.contentType, ...(o.blockSize ? { size: o.blockSize } : {}) });
    o.r.add(() => v.sd.deleteVolume(v.spec, v.type, v.name));
  }
  const path = treeOf(v);
  const one = async (label: string): Promise<void> => {
    if (hasTree(v)) await rsyncReceive(fs, path, o.type.features, o.progress.stream('fs_progress', label));
    if (hasBlock(v)) await receiveDisk(fs, diskOf(v), o.progress.stream('block_progress', label));
  };
  for (const s of o.snapshots) {
    await one(`${v.label}/${s}`);
    await v.sd.createSnapshot(v.spec, v.type, v.name, s);
    o.r.add(() => v.sd.deleteSnapshot(v.spec, v.type, v.name, s));
  }
  await one(v.label);
  if (o.finalSync && hasTree(v) && v.type !== 'virtual-machine') await rsyncReceive(fs, path, o.type.features, o.progress.stream('fs_progress', v.label));
  return info;
}

/** Writes a raw disk stream into `path`, leaving holes where the stream has zeros, sized to what arrived. */
async function receiveDisk(fs: MigrationChannel, path: string, onBytes: (n: number) => void): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    // The disk sent replaces what was there: emptied first, so the zeros skipped below read as zeros.
    await fh.truncate(0);
    let pos = 0;
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const at = pos;
        pos += chunk.length;
        if (isZero(chunk)) cb();
        else fh.write(chunk, 0, chunk.length, at).then(() => cb(), cb);
      },
    });
    await fs.pipeTo(sink, onBytes);
    await new Promise<void>((resolve, reject) => sink.end((err?: Error | null) => (err ? reject(err) : resolve())));
    await fh.truncate(pos);
  } finally {
    await fh.close();
  }
}

const ZEROS = Buffer.alloc(1024 * 1024);
function isZero(b: Buffer): boolean {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (!b.subarray(off, off + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}
