/**
 * `incus storage volume import POOL FILE [NAME] [--type iso|backup]`, as
 * Incus's CLI: a `.iso` file (or --type=iso) becomes an ISO custom volume,
 * named after the file when NAME is left out.
 */
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { CliContext } from '../context';
import { localName } from '../remote';

export interface VolumeImportFlags {
  type?: string;
}

export async function importVolume(ctx: CliContext, poolArg: string, file: string, name: string | undefined, flags: VolumeImportFlags): Promise<void> {
  let type = flags.type ?? '';
  if (type === '') type = file.toLowerCase().endsWith('.iso') ? 'iso' : 'backup';
  else if (type !== 'iso' && type !== 'backup') throw new Error('Import type needs to be "backup" or "iso"');
  const volName = name ?? (type === 'iso' ? basename(file, extname(file)) : '');
  const body = file === '-' ? process.stdin : (await access(file, constants.R_OK), createReadStream(file));
  const { importStorageVolume } = require('../../client/storage-volume-import') as typeof import('../../client/storage-volume-import');
  await importStorageVolume(ctx.client(), localName(poolArg), volName, type as 'iso' | 'backup', body);
}

/** Adds `import` under `storage volume`. */
export function registerVolumeImport(volume: Command, ctx: CliContext): void {
  volume
    .command('import')
    .description('Import custom storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<backup file>', 'File to import')
    .argument('[volume]', 'New volume name')
    .option('--type <type>', 'Import type, backup or iso (default "backup")')
    .action(async (pool: string, file: string, name: string | undefined, flags: VolumeImportFlags) => {
      await importVolume(ctx, pool, file, name, flags);
    });
}
