/**
 * Optimized backups around the driver: whether a request gets one (as
 * Incus, an optimized request on a driver without them makes a normal
 * backup), the streams' names in the tarball (`container.bin`,
 * `snapshots/<snap>.bin`; `volume.bin`, `volume-snapshots/<snap>.bin`),
 * and the tarball as the sink a driver writes them to and the source it
 * reads them back from.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BackupIndex } from '../../api/instance-backup';
import { badRequest } from '../errors';
import { run, runPiped } from '../images/run';
import { childPath } from '../names';
import type { BackupSink, BackupSource, OptimizedBackupFiles, StorageDriver } from '../storage/interface';
import type { TarballParts } from './backup-tarball';

/** Whether a backup asked for as `requested` is optimized on this driver (never for an ISO volume, as Incus). */
export function optimizedFor(requested: boolean | undefined, sd: StorageDriver, contentType = 'filesystem'): boolean {
  return requested === true && sd.info.optimizedBackups && contentType !== 'iso';
}

/** The streams' names under `backup/` for a volume of these parts. */
export function optimizedFiles(parts: TarballParts): OptimizedBackupFiles {
  return { volume: `${parts.volume}.bin`, snapshot: (s) => `${parts.snapshots}/${s}.bin` };
}

/** Whether the tarball is optimized: index.yaml says so, or (older files) it holds `<volume>.bin`. */
export function isOptimized(idx: BackupIndex, members: ReadonlySet<string>, parts: TarballParts): boolean {
  return idx.optimized ?? members.has(`backup/${optimizedFiles(parts).volume}`);
}

/**
 * Checks an optimized tarball against the target pool and itself (400):
 * written by the pool's driver (Incus's message), its header and every
 * stream there.
 */
export function checkOptimizedImport(idx: BackupIndex, members: ReadonlySet<string>, parts: TarballParts, driver: string, sd: StorageDriver): void {
  if (idx.backend !== driver || !sd.info.optimizedBackups) {
    throw badRequest(`Optimized backup storage driver "${idx.backend ?? ''}" differs from the target storage pool driver "${driver}"`);
  }
  const files = optimizedFiles(parts);
  const need = [...(idx.optimized_header ? ['optimized_header.yaml'] : []), files.volume, ...(idx.snapshots ?? []).map((s) => files.snapshot(s))];
  for (const f of need) if (!members.has(`backup/${f}`)) throw badRequest(`Invalid backup file: no backup/${f} in the archive`);
}

/**
 * The tarball `tar` (uncompressed, appended to) as a driver's sink: each
 * file staged in `scratch` under its member name, appended, removed.
 */
export function tarSink(tar: string, scratch: string): BackupSink {
  const add = async (member: string, fill: (path: string) => Promise<void>): Promise<void> => {
    const name = `backup/${member}`;
    const path = childPath(scratch, ...name.split('/'));
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    try {
      await fill(path);
      // Named alone, the file goes in without entries for its folders, as Incus writes it.
      await run('tar', ['-rf', tar, '--numeric-owner', '-C', scratch, name]);
    } finally {
      await rm(path, { force: true });
    }
  };
  return {
    addText: (member, text) => add(member, (path) => writeFile(path, text, { mode: 0o644 })),
    addFile: add,
  };
}

/** Streams one member of a tarball (any compression tar detects) into `into`. */
async function pipeMember(file: string, member: string, into: Writable): Promise<void> {
  await runPiped('tar', ['-xOf', file, '--occurrence=1', member], ['ignore', 'pipe', 'pipe'], `Failed reading ${member} from the backup`, (c) => pipeline(c.stdout!, into));
}

/** A backup tarball, whose members are `members`, as a driver's source. */
export function tarSource(file: string, members: ReadonlySet<string>): BackupSource {
  return {
    readText: async (member) => {
      const name = `backup/${member}`;
      if (!members.has(name)) return null;
      return (await run('tar', ['-xOf', file, '--occurrence=1', name], { stdout: true })).toString();
    },
    pipe: (member, into) => pipeMember(file, `backup/${member}`, into),
  };
}
