/**
 * `incus storage ...`: pools (list, show, create, delete, edit, get, set,
 * unset, info) and, under `storage volume`, their volumes (storage-volume.ts).
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { parseFormat, renderList } from '../format/render';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { formatBytes, keyValues } from './storage-args';
import { editPool } from './storage-edit';
import { registerVolumeCommands } from './storage-volume';

type StorageApi = typeof import('../../client/storage');
const api = (): StorageApi => require('../../client/storage') as StorageApi;

async function changePool(ctx: CliContext, arg: string, change: (config: Record<string, string>) => void): Promise<void> {
  const client = ctx.client();
  const name = localName(arg);
  const { value, etag } = await api().getStoragePool(client, name);
  const config = { ...value.config };
  change(config);
  await api().updateStoragePool(client, name, { config, description: value.description }, { etag });
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const storage = program.command('storage').description('Manage storage pools and volumes');

  storage
    .command('list')
    .alias('ls')
    .description('List available storage pools')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action(async (flags: { format: string }) => {
      const pools = await api().getStoragePools(ctx.client());
      const rows = pools
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((p) => [p.name, p.driver, p.config.source ?? '', p.description, String(p.used_by.length), p.status.toUpperCase()]);
      ctx.out(renderList(parseFormat(flags.format), ['NAME', 'DRIVER', 'SOURCE', 'DESCRIPTION', 'USED BY', 'STATE'], rows, pools));
    });

  storage
    .command('show')
    .description('Show storage pool configurations and resources')
    .argument('<pool>', '[<remote>:]<pool>')
    .option('--resources', 'Show the resources available to the storage pool')
    .option('--target <member>', 'Cluster member name')
    .action(async (arg: string, flags: { resources?: boolean; target?: string }) => {
      const name = localName(arg);
      if (flags.resources) {
        ctx.out(renderYaml(await api().getStoragePoolResources(ctx.client(), name)));
        return;
      }
      const { value } = await api().getStoragePool(ctx.client(), name, { target: flags.target });
      ctx.out(renderYaml({ config: value.config, description: value.description, name: value.name, driver: value.driver, used_by: value.used_by, status: value.status, locations: value.locations }));
    });

  storage
    .command('create')
    .description('Create storage pools')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<driver>', 'Storage driver')
    .argument('[key=value...]', 'Config keys')
    .option('--description <text>', 'Pool description')
    .option('--target <member>', 'Cluster member name')
    .action(async (arg: string, driver: string, args: string[], flags: { description?: string; target?: string }) => {
      const name = localName(arg);
      await api().createStoragePool(ctx.client(), { name, driver, config: keyValues(args, 0), description: flags.description ?? '' }, { target: flags.target });
      ctx.say(flags.target ? `Storage pool ${name} pending on member ${flags.target}\n` : `Storage pool ${name} created\n`);
    });

  storage
    .command('delete')
    .alias('rm')
    .description('Delete storage pools')
    .argument('<pool>', '[<remote>:]<pool>')
    .action(async (arg: string) => {
      const name = localName(arg);
      await api().deleteStoragePool(ctx.client(), name);
      ctx.say(`Storage pool ${name} deleted\n`);
    });

  storage
    .command('edit')
    .description('Edit storage pool configurations as YAML')
    .argument('<pool>', '[<remote>:]<pool>')
    .action(async (arg: string) => {
      ctx.exitCode = await editPool(ctx, arg);
    });

  storage
    .command('get')
    .description('Get values for storage pool configuration keys')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<key>', 'Configuration key')
    .action(async (arg: string, key: string) => {
      const { value } = await api().getStoragePool(ctx.client(), localName(arg));
      ctx.out(`${value.config[key] ?? ''}\n`);
    });

  storage
    .command('set')
    .description('Set storage pool configuration keys')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<key=value...>', 'Config keys')
    .action(async (arg: string, args: string[]) => {
      const kv = keyValues(args, 1);
      await changePool(ctx, arg, (config) => Object.assign(config, kv));
    });

  storage
    .command('unset')
    .description('Unset storage pool configuration keys')
    .argument('<pool>', '[<remote>:]<pool>')
    .argument('<key>', 'Configuration key')
    .action(async (arg: string, key: string) => {
      await changePool(ctx, arg, (config) => {
        if (!(key in config)) throw new Error(`The key "${key}" does not exist`);
        delete config[key];
      });
    });

  storage
    .command('info')
    .description('Show useful information about storage pools')
    .argument('<pool>', '[<remote>:]<pool>')
    .option('--bytes', 'Show the used and free space in bytes')
    .action(async (arg: string, flags: { bytes?: boolean }) => {
      const name = localName(arg);
      const client = ctx.client();
      const { value } = await api().getStoragePool(client, name);
      const res = await api().getStoragePoolResources(client, name);
      const size = (n: number) => (flags.bytes ? String(n) : formatBytes(n));
      const info = {
        info: { description: value.description, driver: value.driver, name: value.name, space_used: size(res.space.used), total_space: size(res.space.total) },
        used_by: value.used_by,
      };
      ctx.out(renderYaml(info));
    });

  registerVolumeCommands(storage, ctx);
}
