/**
 * `incus storage volume export POOL VOLUME [FILE]` (a temporary server-side
 * backup, downloaded then deleted) and `incus storage volume import POOL
 * FILE [NAME]` (`--type=backup`, the default, or `--type=iso`, the default for a `.iso` file).
 */
import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { createVolumeBackup, deleteVolumeBackup, downloadVolumeBackup, importVolumeBackup } from '../../client/volume-backups';
import type { CliContext } from '../context';
import { localName } from '../remote';

type StorageApi = typeof import('../../client/storage');
const api = (): StorageApi => require('../../client/storage') as StorageApi;

/** Flags of `incus storage volume export`. */
interface ExportFlags {
  volumeOnly?: boolean;
  optimizedStorage?: boolean;
  compression?: string;
  force?: boolean;
}

/** The file name Incus gives an export without a target: the volume's, with the archive's extension. */
function defaultTarget(vol: string, compression: string | undefined): string {
  const ext: Record<string, string> = { none: '.tar', gzip: '.tar.gz', xz: '.tar.xz', zstd: '.tar.zst', bzip2: '.tar.bz2', lzma: '.tar.lzma' };
  return vol + (ext[compression || 'gzip'] ?? '.tar.gz');
}

async function exportVolume(ctx: CliContext, poolArg: string, vol: string, target: string | undefined, flags: ExportFlags): Promise<void> {
  const client = ctx.client();
  const pool = localName(poolArg);
  try {
    await api().getStorageVolume(client, pool, 'custom', vol);
  } catch {
    throw new Error(`Storage pool volume "custom/${vol}" not found`);
  }
  const file = target ?? defaultTarget(vol, flags.compression);
  const toStdout = file === '-';
  if (!toStdout && !flags.force && (await access(file).then(() => true, () => false))) throw new Error(`Target path "${file}" already exists`);
  const backup = `export-${process.pid}-${Date.now()}`;
  try {
    await createVolumeBackup(client, pool, vol, {
      name: backup,
      expires_at: new Date(Date.now() + 24 * 3600_000).toISOString(),
      volume_only: flags.volumeOnly === true,
      optimized_storage: flags.optimizedStorage === true,
      compression_algorithm: flags.compression,
    });
  } catch (err) {
    throw new Error(`Failed to create storage volume backup: ${(err as Error).message}`);
  }
  try {
    await downloadVolumeBackup(client, pool, vol, backup, toStdout ? process.stdout : file).catch((err: Error) => {
      throw new Error(`Failed to fetch storage volume backup file: ${err.message}`);
    });
    if (!toStdout) ctx.say('Backup exported successfully!\n');
  } finally {
    await deleteVolumeBackup(client, pool, vol, backup).catch(() => undefined);
  }
}

async function importVolume(ctx: CliContext, poolArg: string, file: string, name: string | undefined, type: string | undefined): Promise<void> {
  // As Incus: a `.iso` file is an ISO import unless --type says otherwise.
  const kind = type || (file.toLowerCase().endsWith('.iso') ? 'iso' : 'backup');
  if (kind !== 'backup' && kind !== 'iso') throw new Error('Import type needs to be "backup" or "iso"');
  // An ISO without a name is named after its file.
  const volName = kind === 'iso' && !name ? basename(file).replace(/\.[^.]*$/, '') : name;
  await importVolumeBackup(ctx.client(), localName(poolArg), file === '-' ? process.stdin : file, volName, { type: kind });
}

/** Adds `export` and `import` under `storage volume`. */
export function registerVolumeBackupCommands(volume: Command, ctx: CliContext): void {
  volume
    .command('export')
    .description('Export custom storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('[file]', 'Target path (- for standard output)')
    .option('--volume-only', 'Export the volume without its snapshots')
    .option('--optimized-storage', 'Use storage driver optimized format (can only be restored on a similar pool)')
    .option('--compression <algorithm>', 'Compression algorithm to use (none for uncompressed)')
    .option('-f, --force', 'Force overwriting existing backup file')
    .action(async (pool: string, vol: string, file: string | undefined, flags: ExportFlags) => {
      await exportVolume(ctx, pool, vol, file, flags);
    });
  volume
    .command('import')
    .description('Import custom storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<file>', 'Backup file (- for standard input)')
    .argument('[volume]', 'New volume name')
    .option('-t, --type <type>', 'Import type, backup or iso (default "backup")')
    .action(async (pool: string, file: string, name: string | undefined, flags: { type?: string }) => {
      await importVolume(ctx, pool, file, name, flags.type);
    });
}
