/**
 * `incus copy SRC[/SNAP] DST` and `incus move OLD NEW | OLD --storage POOL`
 * within one server: POST /1.0/instances with a copy source; a move is a
 * rename, or a copy to the new pool followed by deleting the source.
 */
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import type { DevicesMap, InstancesPost } from '../../api/instance';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { parseKeyValues, quote } from '../kv';
import { collect } from '../option-parsers';
import { localName } from '../remote';

/** Flags of `incus copy`. */
export interface CopyFlags {
  config?: string[];
  profile?: string[];
  /** false with --no-profiles. */
  profiles?: boolean;
  instanceOnly?: boolean;
  storage?: string;
  ephemeral?: boolean;
}

/** The root disk of the source (kept as is) pointed at another pool. */
async function rootOnPool(client: IncusClient, source: string, pool: string): Promise<DevicesMap> {
  try {
    await client.getStoragePool(pool);
  } catch (err) {
    throw new Error(`Failed loading storage pool ${quote(pool)}: ${(err as Error).message}`);
  }
  const inst = await client.getInstance(source);
  const [name, dev] = Object.entries(inst.expanded_devices).find(([, d]) => d.type === 'disk' && d.path === '/') ?? ['root', { type: 'disk', path: '/' }];
  return { [name]: { ...dev, pool } };
}

/** Builds and runs the copy request, waiting for its operation. */
export async function copyInstance(ctx: CliContext, src: string, dst: string | undefined, flags: CopyFlags): Promise<string> {
  const client = ctx.client();
  const source = localName(src);
  const [instance] = source.split('/', 1) as [string];
  const req: InstancesPost = {
    name: dst === undefined ? undefined : localName(dst),
    source: { type: 'copy', source, instance_only: flags.instanceOnly === true },
    config: parseKeyValues(flags.config ?? []),
    devices: flags.storage ? await rootOnPool(client, instance, flags.storage) : {},
    profiles: flags.profile && flags.profile.length > 0 ? flags.profile : flags.profiles === false ? [] : undefined,
    ephemeral: flags.ephemeral === true,
  };
  const done = await (await client.createInstance(req)).wait();
  const url = (done.resources?.instances ?? [])[0] ?? '';
  return req.name ?? decodeURIComponent(url.split('/').pop() ?? '');
}

/** `move OLD NEW` renames; with --storage the instance (and its snapshots) moves to the pool. */
export async function moveInstance(ctx: CliContext, from: string, to: string | undefined, storage: string | undefined): Promise<number> {
  const client = ctx.client();
  const name = localName(from);
  const target = to === undefined ? name : localName(to);
  if (!storage) {
    if (target === name) throw new Error('You must specify a new name or a storage pool');
    await (await client.renameInstance(name, target)).wait();
    return 0;
  }
  const tmp = `${name}-move-${randomBytes(3).toString('hex')}`;
  await copyInstance(ctx, name, tmp, { storage });
  await (await client.deleteInstance(name)).wait();
  await (await client.renameInstance(tmp, target)).wait();
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('copy')
    .alias('cp')
    .description('Copy instances within or in between servers')
    .argument('<source>', '[<remote>:]<source>[/<snapshot>]')
    .argument('[destination]', '[<remote>:]<destination>')
    .option('-c, --config <key=value>', 'Config key/value to apply to the new instance', collect)
    .option('-p, --profile <profile>', 'Profile to apply to the new instance', collect)
    .option('--no-profiles', 'Create the instance with no profiles applied')
    .option('--instance-only', 'Copy the instance without its snapshots')
    .option('-s, --storage <pool>', 'Storage pool name')
    .option('-e, --ephemeral', 'Ephemeral instance')
    .action(async (src: string, dst: string | undefined, flags: CopyFlags) => {
      await copyInstance(ctx, src, dst, flags);
      ctx.exitCode = 0;
    });
  program
    .command('move')
    .alias('mv')
    .description('Move instances within or in between servers')
    .argument('<source>', '[<remote>:]<source>')
    .argument('[destination]', '[<remote>:]<destination>')
    .option('-s, --storage <pool>', 'Storage pool name')
    .action(async (src: string, dst: string | undefined, flags: { storage?: string }) => {
      ctx.exitCode = await moveInstance(ctx, src, dst, flags.storage);
    });
}
