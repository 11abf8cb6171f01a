/**
 * `incus storage volume ...`: list, show, create, delete, rename, move,
 * copy, edit, get, set, unset, info, attach, detach and import (custom volumes as `disk`
 * devices with `pool` and `source`); snapshots in storage-volume-snapshot.ts.
 */
import type { Command } from 'commander';
import type { DevicesMap } from '../../api/instance';
import type { StorageVolume } from '../../api/storage-volume';
import type { CliContext } from '../context';
import { putForWire } from '../config-text';
import { parseFormat, renderList } from '../format/render';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { instanceWritable } from '../writable';
import { formatBytes, keyValues } from './storage-args';
import { editVolume, editVolumeSnapshot } from './storage-edit';
import { getVolumeKey, setVolumeKeys, splitVolumePath, unsetVolumeKeys, type VolumeKeyFlags } from './storage-volume-keys';
import { registerVolumeSnapshotCommands } from './storage-volume-snapshot';
import { registerVolumeBackupCommands } from './storage-volume-backup';
import { acrossServers, copyVolumeLocally, poolVolumeArg, transferVolume, type VolumeTransferFlags } from './storage-volume-transfer';

type StorageApi = typeof import('../../client/storage');
const api = (): StorageApi => require('../../client/storage') as StorageApi;

/** `[type/]name`: custom unless a type prefix says otherwise. */
export function splitVolume(arg: string): { type: string; name: string } {
  const i = arg.indexOf('/');
  if (i < 0) return { type: 'custom', name: arg };
  return { type: arg.slice(0, i), name: arg.slice(i + 1) };
}

async function withInstanceDevices(ctx: CliContext, instance: string, change: (devices: DevicesMap) => DevicesMap): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await client.getInstanceWithEtag(instance);
  const put = instanceWritable(value);
  const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
  await putInstance(client, instance, putForWire({ ...put, devices: change(put.devices) }), { etag });
}

/**
 * `attach --create`: makes the volume when it does not exist (a block one
 * for a VM without a path, as Incus) and returns how to delete it again.
 */
async function createMissingVolume(ctx: CliContext, pool: string, vol: string, instance: string, path: string): Promise<(() => Promise<void>) | null> {
  const client = ctx.client();
  try {
    await api().getStorageVolume(client, pool, 'custom', vol);
    return null;
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
  }
  const block = path === '' && (await client.getInstanceWithEtag(instance)).value.type === 'virtual-machine';
  await api().createStorageVolume(client, pool, { name: vol, type: 'custom', content_type: block ? 'block' : 'filesystem', config: {}, description: '' });
  return () => api().deleteStorageVolume(client, pool, 'custom', vol).catch(() => undefined);
}

function show(v: StorageVolume): string {
  return renderYaml({
    config: v.config,
    description: v.description,
    name: v.name,
    type: v.type,
    used_by: v.used_by,
    location: v.location,
    content_type: v.content_type,
    project: v.project,
    created_at: v.created_at,
  });
}

/** Adds `storage volume` and its subcommands under `storage`. */
export function registerVolumeCommands(storage: Command, ctx: CliContext): void {
  const volume = storage.command('volume').description('Manage storage volumes');

  volume
    .command('list')
    .alias('ls')
    .description('List storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .option('--all-projects', 'All projects')
    .action(async (pool: string, flags: { format: string; allProjects?: boolean }) => {
      const vols = await api().getStorageVolumes(ctx.client(), localName(pool), { allProjects: flags.allProjects });
      const header = ['TYPE', 'NAME', 'DESCRIPTION', 'CONTENT-TYPE', 'USED BY'];
      const rows = vols.map((v) => [v.type, v.name, v.description, v.content_type, String((v.used_by ?? []).length)]);
      // Incus shows the project first only with --all-projects.
      if (flags.allProjects) {
        header.unshift('PROJECT');
        rows.forEach((row, i) => row.unshift(vols[i]!.project ?? ''));
      }
      ctx.out(renderList(parseFormat(flags.format), header, rows, vols));
    });

  volume
    .command('show')
    .description('Show storage volume configurations')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>')
    .action(async (pool: string, arg: string) => {
      const { type, name } = splitVolume(arg);
      ctx.out(show((await api().getStorageVolume(ctx.client(), localName(pool), type, name)).value));
    });

  volume
    .command('create')
    .description('Create new custom storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('[key=value...]', 'Config keys')
    .option('--type <type>', 'Content type, block or filesystem', 'filesystem')
    .option('--description <text>', 'Volume description')
    .action(async (pool: string, name: string, args: string[], flags: { type: string; description?: string }) => {
      await api().createStorageVolume(ctx.client(), localName(pool), {
        name,
        type: 'custom',
        content_type: flags.type,
        config: keyValues(args, 0),
        description: flags.description ?? '',
      });
      ctx.say(`Storage volume ${name} created\n`);
    });

  volume
    .command('delete')
    .alias('rm')
    .description('Delete storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>')
    .action(async (pool: string, arg: string) => {
      const { type, name } = splitVolume(arg);
      await api().deleteStorageVolume(ctx.client(), localName(pool), type, name);
      ctx.say(`Storage volume ${name} deleted\n`);
    });

  volume
    .command('rename')
    .description('Rename storage volumes')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<old>', 'Old volume name')
    .argument('<new>', 'New volume name')
    .action(async (pool: string, from: string, to: string) => {
      const { type, name } = splitVolume(from);
      await api().renameStorageVolume(ctx.client(), localName(pool), type, name, { name: to });
      ctx.say(`Renamed storage volume from "${name}" to "${to}"\n`);
    });

  volume
    .command('move')
    .description('Move storage volumes between pools')
    .argument('<source>', '[<remote>:]<pool>/<volume>')
    .argument('<target>', '[<remote>:]<pool>/<volume>')
    .option('--mode <mode>', 'Transfer mode, one of pull (default), push or relay', 'pull')
    .option('--target-project <project>', 'Move to a project different from the source')
    .action(async (src: string, dst: string, f: VolumeTransferFlags) => {
      const a = poolVolumeArg(ctx, src);
      const b = poolVolumeArg(ctx, dst);
      if (acrossServers(ctx, a, b)) await transferVolume(ctx, a, b, f, true);
      else await api().renameStorageVolume(ctx.client(), a.pool, 'custom', a.name, { name: b.name, pool: b.pool });
      ctx.say('Storage volume moved successfully!\n');
    });

  volume
    .command('copy')
    .description('Copy storage volumes')
    .argument('<source>', '[<remote>:]<pool>/<volume>[/<snapshot>]')
    .argument('<target>', '[<remote>:]<pool>/<volume>')
    .option('--mode <mode>', 'Transfer mode, one of pull (default), push or relay', 'pull')
    .option('--volume-only', 'Copy the volume without its snapshots')
    .option('--refresh', 'Refresh and update the existing storage volume copies')
    .option('--target-project <project>', 'Copy to a project different from the source')
    .action(async (src: string, dst: string, f: VolumeTransferFlags) => {
      const a = poolVolumeArg(ctx, src, true);
      const b = poolVolumeArg(ctx, dst);
      if (a.snapshot !== undefined && f.volumeOnly) throw new Error('Cannot set --volume-only when copying a snapshot');
      if (acrossServers(ctx, a, b)) await transferVolume(ctx, a, b, f, false);
      else await copyVolumeLocally(ctx, a, b, f);
      ctx.say('Storage volume copied successfully!\n');
    });

  volume
    .command('edit')
    .description('Edit storage volume configurations as YAML')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>[/<snapshot>]')
    .action(async (pool: string, arg: string) => {
      const { type, name, snapshot } = splitVolumePath(arg);
      ctx.exitCode = snapshot === undefined ? await editVolume(ctx, pool, type, name) : await editVolumeSnapshot(ctx, pool, type, name, snapshot);
    });

  volume
    .command('get')
    .description('Get values for storage volume configuration keys')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>[/<snapshot>]')
    .argument('<key>', 'Configuration key')
    .option('-p, --property', 'Get the key as a storage volume property')
    .action(async (pool: string, arg: string, key: string, flags: VolumeKeyFlags) => {
      ctx.exitCode = await getVolumeKey(ctx, localName(pool), arg, key, flags);
    });

  volume
    .command('set')
    .description('Set storage volume configuration keys')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>[/<snapshot>]')
    .argument('<key=value...>', 'Config keys')
    .option('-p, --property', 'Set the key as a storage volume property')
    .action(async (pool: string, arg: string, args: string[], flags: VolumeKeyFlags) => {
      ctx.exitCode = await setVolumeKeys(ctx, localName(pool), arg, keyValues(args, 1), flags);
    });

  volume
    .command('unset')
    .description('Unset storage volume configuration keys')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>[/<snapshot>]')
    .argument('<key...>', 'Configuration keys')
    .option('-p, --property', 'Unset the keys as storage volume properties')
    .action(async (pool: string, arg: string, keys: string[], flags: VolumeKeyFlags) => {
      ctx.exitCode = await unsetVolumeKeys(ctx, localName(pool), arg, keys, flags);
    });

  volume
    .command('info')
    .description('Show storage volume state information')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', '[<type>/]<volume>')
    .action(async (poolArg: string, arg: string) => {
      const pool = localName(poolArg);
      const { type, name } = splitVolume(arg);
      const client = ctx.client();
      const { value } = await api().getStorageVolume(client, pool, type, name);
      const state = await api().getStorageVolumeState(client, pool, type, name);
      let text = `Name: ${value.name}\nType: ${value.type}\nContent type: ${value.content_type}\nCreated: ${value.created_at}\n`;
      if (value.description) text += `Description: ${value.description}\n`;
      if (state.usage) text += `Usage: ${formatBytes(state.usage.used)}\n`;
      if (state.usage && state.usage.total > 0) text += `Total: ${formatBytes(state.usage.total)}\n`;
      ctx.out(text);
    });

  volume
    .command('attach')
    .description('Attach new custom storage volumes to instances')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('<instance>', 'Instance name')
    .argument('[device]', 'Device name (default: the volume name)')
    .argument('[path]', 'Mount path inside the instance')
    .option('--create', "Create the custom storage volume if it doesn't already exist")
    .action(async (poolArg: string, vol: string, instance: string, dev: string | undefined, path: string | undefined, flags: { create?: boolean }) => {
      // The short form of older Incus releases: `attach POOL VOL INSTANCE PATH`.
      if (dev !== undefined && path === undefined && dev.startsWith('/')) [dev, path] = [vol, dev];
      const pool = localName(poolArg);
      const device = dev || vol;
      const undo = flags.create ? await createMissingVolume(ctx, pool, vol, localName(instance), path ?? '') : null;
      try {
        await withInstanceDevices(ctx, localName(instance), (devices) => {
          if (devices[device]) throw new Error('The device already exists');
          return { ...devices, [device]: { type: 'disk', pool, source: vol, path: path ?? '' } };
        });
      } catch (err) {
        await undo?.();
        throw err;
      }
    });

  volume
    .command('detach')
    .description('Detach custom storage volumes from instances')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<volume>', 'Volume name')
    .argument('<instance>', 'Instance name')
    .argument('[device]', 'Device name')
    .action(async (poolArg: string, vol: string, instance: string, dev?: string) => {
      const pool = localName(poolArg);
      await withInstanceDevices(ctx, localName(instance), (devices) => {
        const matches = Object.entries(devices).filter(([n, d]) => d.type === 'disk' && d.pool === pool && d.source === vol && (!dev || n === dev));
        if (matches.length === 0) throw new Error('No storage volume with the given name is attached to the instance');
        if (matches.length > 1) throw new Error('More than one device matches, specify the device name');
        const out = { ...devices };
        delete out[matches[0]![0]];
        return out;
      });
    });

  registerVolumeSnapshotCommands(volume, ctx);
  registerVolumeBackupCommands(volume, ctx);
}
