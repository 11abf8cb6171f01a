/**
 * `incus export NAME [FILE]` (a temporary server-side backup, downloaded
 * then deleted) and `incus import FILE [NAME] [--storage POOL]`.
 */
import type { Command } from 'commander';
import { createBackup, deleteBackup, downloadBackup, importBackup } from '../../client/backups';
import type { CliContext } from '../context';
import { localName } from '../remote';

/** Flags of `incus export`. */
export interface ExportFlags {
  instanceOnly?: boolean;
  optimizedStorage?: boolean;
  compression?: string;
}

/** Exports an instance into `file` (default backup.tar.gz, as Incus). */
export async function exportInstance(ctx: CliContext, name: string, file: string | undefined, flags: ExportFlags): Promise<number> {
  const client = ctx.client();
  const inst = localName(name);
  const backup = `export-${process.pid}-${Date.now()}`;
  await createBackup(client, inst, {
    name: backup,
    expires_at: new Date(Date.now() + 24 * 3600_000).toISOString(),
    instance_only: flags.instanceOnly === true,
    optimized_storage: flags.optimizedStorage === true,
    compression_algorithm: flags.compression,
  });
  try {
    const n = await downloadBackup(client, inst, backup, file ?? 'backup.tar.gz');
    ctx.say(`Backup exported successfully! (${n} bytes)\n`);
  } finally {
    await deleteBackup(client, inst, backup).catch(() => undefined);
  }
  return 0;
}

/** Imports a backup file (`-`: standard input, as Incus reads it) as a new instance. */
export async function importInstance(ctx: CliContext, file: string, name: string | undefined, storage: string | undefined): Promise<number> {
  await importBackup(ctx.client(), file === '-' ? process.stdin : file, { name: name === undefined ? undefined : localName(name), pool: storage });
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description('Export instance backups')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('[file]', 'Target path (default backup.tar.gz)')
    .option('--instance-only', 'Whether or not to only backup the instance (without snapshots)')
    .option('--optimized-storage', 'Use storage driver optimized format (can only be restored on a similar pool)')
    .option('--compression <algorithm>', 'Compression algorithm to use (none for uncompressed)')
    .action(async (name: string, file: string | undefined, flags: ExportFlags) => {
      ctx.exitCode = await exportInstance(ctx, name, file, flags);
    });
  program
    .command('import')
    .description('Import instance backups')
    .argument('<file>', 'Backup file')
    .argument('[instance]', 'Instance name')
    .option('-s, --storage <pool>', 'Storage pool name')
    .action(async (file: string, name: string | undefined, flags: { storage?: string }) => {
      ctx.exitCode = await importInstance(ctx, file, name, flags.storage);
    });
}
