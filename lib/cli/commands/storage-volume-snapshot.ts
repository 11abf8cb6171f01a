/** `incus storage volume snapshot create|list|show|restore|delete|rename` (show: of any volume type). */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parseFormat, renderList } from '../format/render';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { splitVolume } from './storage-args';

type StorageApi = typeof import('../../client/storage');
const api = (): StorageApi => require('../../client/storage') as StorageApi;

const NO_EXPIRY = '0001-01-01T00:00:00Z';

/** Adds `snapshot` and its subcommands under `storage volume`. */
export function registerVolumeSnapshotCommands(volume: Command, ctx: CliContext): void {
  const snapshot = volume.command('snapshot').description('Manage storage volume snapshots');

  snapshot
    .command('create')
    .description('Snapshot storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('[snapshot]', 'Snapshot name')
    .action(async (pool: string, vol: string, snap?: string) => {
      await api().createVolumeSnapshot(ctx.client(), localName(pool), vol, snap);
    });

  snapshot
    .command('list')
    .alias('ls')
    .description('List storage volume snapshots')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action(async (pool: string, vol: string, flags: { format: string }) => {
      const snaps = await api().getVolumeSnapshots(ctx.client(), localName(pool), vol);
      const rows = snaps.map((s) => [s.name, s.description, s.created_at, s.expires_at === NO_EXPIRY ? '' : s.expires_at]);
      ctx.out(renderList(parseFormat(flags.format), ['NAME', 'DESCRIPTION', 'TAKEN AT', 'EXPIRES AT'], rows, snaps));
    });

  snapshot
    .command('show')
    .description('Show storage volume snapshot configurations')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>')
    .argument('<snapshot>', 'Snapshot name')
    .action(async (pool: string, arg: string, snap: string) => {
      const { type, name } = splitVolume(arg);
      const s = await api().getVolumeSnapshot(ctx.client(), localName(pool), type, name, snap);
      // Go's field order: the Put part (description, expires_at) inline first.
      ctx.out(renderYaml({ description: s.description, expires_at: s.expires_at, name: s.name, config: s.config, content_type: s.content_type, created_at: s.created_at }));
    });

  snapshot
    .command('restore')
    .description('Restore storage volume snapshots')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('<snapshot>', 'Snapshot name')
    .action(async (pool: string, vol: string, snap: string) => {
      await api().restoreVolumeSnapshot(ctx.client(), localName(pool), vol, snap);
    });

  snapshot
    .command('delete')
    .alias('rm')
    .description('Delete storage volume snapshots')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('<snapshot>', 'Snapshot name')
    .action(async (pool: string, vol: string, snap: string) => {
      await api().deleteVolumeSnapshot(ctx.client(), localName(pool), vol, snap);
    });

  snapshot
    .command('rename')
    .description('Rename storage volume snapshots')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('<old>', 'Old snapshot name')
    .argument('<new>', 'New snapshot name')
    .action(async (pool: string, vol: string, from: string, to: string) => {
      await api().renameVolumeSnapshot(ctx.client(), localName(pool), vol, from, to);
    });
}
