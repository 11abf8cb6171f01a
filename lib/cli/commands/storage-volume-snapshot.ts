/** `incus storage volume snapshot create|list|show|restore|delete|rename` for custom volumes (show for any type). */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parseFormat, renderList } from '../format/render';
import { volumeSnapshotShape } from '../format/config-shapes';
import { orderKeys } from '../format/go-order';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { parseExpiryFlag } from './snapshot';
import { splitVolumePath } from './storage-volume-keys';

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
    .option('--expiry <expiry>', 'Expiry for the new snapshot (either a time span like `1d 3H` or a date in `2006/01/02 15:04 MST` format)')
    .option('--no-expiry', 'Ignore any configured auto-expiry for the storage volume')
    .option('--reuse', 'If the snapshot name already exists, delete and create a new one')
    .action(async (pool: string, vol: string, snap: string | undefined, o: { expiry?: string | false; reuse?: boolean }) => {
      const client = ctx.client();
      const poolName = localName(pool);
      if (o.reuse && snap) {
        const existing = await api().getVolumeSnapshots(client, poolName, vol);
        if (existing.some((s) => s.name === snap)) await api().deleteVolumeSnapshot(client, poolName, vol, snap);
      }
      const expiresAt = o.expiry === false ? NO_EXPIRY : typeof o.expiry === 'string' ? parseExpiryFlag(o.expiry) : undefined;
      await api().createVolumeSnapshot(client, poolName, vol, snap, {}, expiresAt);
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
    .action(async (pool: string, vol: string, snap: string) => {
      const { type, name } = splitVolumePath(vol);
      const { value } = await api().getVolumeSnapshot(ctx.client(), localName(pool), type, name, snap);
      ctx.out(renderYaml(orderKeys(value, volumeSnapshotShape)));
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
