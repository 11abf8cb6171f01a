/**
 * Optimized btrfs backups, as Incus's btrfs BackupVolume and
 * CreateVolumeFromBackup write and read them: `optimized_header.yaml` (the
 * restoration header naming the subvolumes), then one `btrfs send` stream
 * per snapshot (oldest first, each a delta from the one before) and one for
 * the volume (from a read-only snapshot of it, a delta from the newest
 * snapshot). Only root subvolumes: a volume holding nested ones is refused
 * rather than saved without their content.
 */
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { parse, stringify } from 'yaml';
import type { Reverter } from '../../revert';
import type { BackupSink, BackupSource, OptimizedBackupFiles } from '../interface';
import { btrfsReceive, btrfsSend, receiveSubvolumes, restorationHeader, sendSubvolumes, type SubVolume, type SubvolumePaths } from './btrfs-stream';
import * as bt from './btrfs-tools';

const HEADER = 'optimized_header.yaml';

/** Refuses a volume or snapshot with subvolumes inside (a send stream would hold them as empty folders). */
async function refuseNested(paths: string[]): Promise<void> {
  for (const p of paths) {
    const [first] = await bt.subvolumesBelow(p);
    if (first !== undefined) throw new Error(`Nested subvolume "${first}" is not supported in optimized backups by this server`);
  }
}

/** Writes the header and the streams of the volume and its snapshots to `sink`. */
export async function backupBtrfs(p: SubvolumePaths, snapshots: readonly string[], files: OptimizedBackupFiles, sink: BackupSink): Promise<void> {
  await refuseNested([...snapshots.map((s) => p.snapshot(s)), p.volume]);
  await sink.addText(HEADER, stringify({ subvolumes: await restorationHeader(p, snapshots) }));
  await sendSubvolumes(p, snapshots, { tmpPrefix: 'backup.', frozenName: '.backup' }, (path, parent, s) =>
    sink.addFile(s === undefined ? files.volume : files.snapshot(s), (file) => btrfsSend(path, parent, (out) => pipeline(out, createWriteStream(file, { mode: 0o600 })))),
  );
}

/** The header's subvolumes, checked: root ones only (older backups have no header: all are). */
async function readHeader(source: BackupSource): Promise<SubVolume[]> {
  const text = await source.readText(HEADER);
  if (text === null) return [];
  let header: { subvolumes?: unknown } | null;
  try {
    header = parse(text) as { subvolumes?: unknown } | null;
  } catch (err) {
    throw new Error(`Error parsing optimized backup header file: ${(err as Error).message}`);
  }
  const subvolumes = header?.subvolumes;
  if (!Array.isArray(subvolumes)) throw new Error('Error parsing optimized backup header file: no subvolumes');
  const nested = (subvolumes as SubVolume[]).find((x) => x?.path !== '/');
  if (nested) throw new Error(`Nested subvolume "${String(nested?.path)}" is not supported by this server`);
  return subvolumes as SubVolume[];
}

/**
 * Receives the snapshots into place and the volume (see receiveSubvolumes)
 * from the streams `source` holds; each step undone by `r`.
 */
export async function restoreBtrfs(p: SubvolumePaths, snapshots: readonly string[], files: OptimizedBackupFiles, source: BackupSource, r: Reverter): Promise<void> {
  // A snapshot onto an existing folder would land inside it: refuse first, as Incus.
  if (await stat(p.volume).catch(() => null)) throw new Error('Cannot restore volume, already exists on target');
  await readHeader(source);
  await receiveSubvolumes(p, snapshots, { replace: false, tmpPrefix: 'backup.', r }, (dir, s) =>
    btrfsReceive(dir, (stdin) => source.pipe(s === undefined ? files.volume : files.snapshot(s), stdin)),
  );
  r.add(async () => {
    if (await bt.isSubvolume(p.volume)) await bt.subvolumeDelete(p.volume);
  });
}
