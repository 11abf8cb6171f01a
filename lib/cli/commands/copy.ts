/**
 * `incus copy SRC[/SNAP] DST` and `incus move` within one server: a copy is
 * POST /1.0/instances with a copy source; a move is a rename, or, to another
 * pool or project, a move the server makes itself.
 */
import type { Command } from 'commander';
import type { DevicesMap, InstancePost, InstancesPost } from '../../api/instance';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { parseDeviceOverrides, parseKeyValues, quote } from '../kv';
import { collect } from '../option-parsers';
import { localName } from '../remote';
import { splitRemote } from '../remotes/connect';
import { copyBetweenServers, describe, refreshConfig, type RemoteCopyFlags } from './copy-remote';

/** Flags of `incus copy`. */
export type CopyFlags = RemoteCopyFlags;

/** The two ends of a copy or move, and whether they are different servers. */
function endpoints(ctx: CliContext, src: string, dst: string | undefined): { from: { remote: string; name: string }; to: { remote: string; name: string }; between: boolean } {
  const from = splitRemote(ctx, src);
  const to = dst === undefined ? { remote: from.remote, name: '' } : splitRemote(ctx, dst);
  return { from, to, between: from.remote !== to.remote };
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
export async function copyInstance(ctx: CliContext, src: string, dst: string | undefined, flags: CopyFlags & { target?: string }): Promise<string> {
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
  const done = await (await client.createInstance(req, { target: flags.target })).wait();
  const url = (done.resources?.instances ?? [])[0] ?? '';
  return req.name ?? decodeURIComponent(url.split('/').pop() ?? '');
}

/**
 * `copy SRC DST --refresh` on one server, as Incus's CLI: a copy request
 * described from the source (volatile keys kept) onto the existing DST,
 * then DST takes the source's config.
 */
export async function refreshInstance(ctx: CliContext, src: string, dst: string, flags: CopyFlags): Promise<void> {
  const client = ctx.client();
  const source = localName(src);
  if (source.includes('/')) throw new Error('--refresh can only be used with instances');
  if (flags.profiles === false) throw new Error('--no-profiles cannot be used with --refresh');
  const name = localName(dst);
  const req = describe(await client.getInstance(source), name, flags, true);
  req.source = { type: 'copy', source, instance_only: flags.instanceOnly === true, refresh: true, refresh_exclude_older: flags.refreshExcludeOlder === true };
  await (await client.createInstance(req)).wait();
  await refreshConfig(ctx, client, name, req);
}

/**
 * `move` on one server, as Incus's CLI: without --storage or --target-project
 * a rename; with either, the server moves the stopped instance itself
 * (POST /1.0/instances/NAME with migration, pool, project and the
 * overrides).
 */
export async function moveInstance(ctx: CliContext, from: string, to: string | undefined, flags: CopyFlags): Promise<number> {
  const client = ctx.client();
  const name = localName(from);
  const target = to === undefined ? undefined : localName(to);
  if (!flags.storage && !flags.targetProject) {
    if (target === undefined) throw new Error("Can't perform local rename without a new instance name");
    if (flags.config || flags.device || flags.profile || flags.profiles === false) throw new Error("Can't override configuration or profiles in local rename");
    if (flags.refresh) throw new Error("Can't perform an incremental transfer in local rename");
    await (await client.renameInstance(name, target)).wait();
    return 0;
  }
  const req: InstancePost = {
    name: target ?? name,
    migration: true,
    live: flags.stateless !== true,
    instance_only: flags.instanceOnly === true,
    pool: flags.storage ?? '',
    project: flags.targetProject ?? '',
    refresh: flags.refresh === true,
  };
  if (flags.profile && flags.profile.length > 0) req.profiles = flags.profile;
  else if (flags.profiles === false) req.profiles = [];
  if (flags.config) req.config = parseKeyValues(flags.config);
  if (flags.device) {
    // Each override applies over the device as the instance has it (profiles included).
    const expanded = (await client.getInstance(name)).expanded_devices;
    req.devices = Object.fromEntries(Object.entries(parseDeviceOverrides(flags.device)).map(([dev, over]) => [dev, { ...(expanded[dev] ?? {}), ...over }]));
  }
  const op = await client.migrateInstance(name, req).catch((err: Error) => {
    throw new Error(`Migration API failure: ${err.message}`);
  });
  await op.wait().catch((err: Error) => {
    throw new Error(`Migration operation failure: ${err.message}`);
  });
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
    .option('-d, --device <device,key=value>', 'New key/value to apply to a specific device', collect)
    .option('-p, --profile <profile>', 'Profile to apply to the new instance', collect)
    .option('--no-profiles', 'Create the instance with no profiles applied')
    .option('--instance-only', 'Copy the instance without its snapshots')
    .option('-s, --storage <pool>', 'Storage pool name')
    .option('-e, --ephemeral', 'Ephemeral instance')
    .option('--mode <mode>', 'Transfer mode. One of pull, push or relay', 'pull')
    .option('--stateless', 'Copy a stateful instance stateless')
    .option('--refresh', 'Perform an incremental copy')
    .option('--refresh-exclude-older', 'During incremental copy, exclude source snapshots earlier than latest target snapshot')
    .option('--target-project <project>', 'Copy to a project different from the source')
    .option('--allow-inconsistent', 'Ignore copy errors for volatile files')
    .option('--target <member>', 'Cluster member name')
    .action(async (src: string, dst: string | undefined, flags: CopyFlags & { target?: string }) => {
      const e = endpoints(ctx, src, dst);
      if (e.between) await copyBetweenServers(ctx, e.from, e.to, flags, false);
      else {
        if (dst === undefined) throw new Error('You must specify a destination instance name');
        if (flags.refresh) await refreshInstance(ctx, src, dst, flags);
        else await copyInstance(ctx, src, dst, flags);
      }
      ctx.exitCode = 0;
    });
  program
    .command('move')
    .alias('mv')
    .description('Move instances within or in between servers')
    .argument('<source>', '[<remote>:]<source>')
    .argument('[destination]', '[<remote>:]<destination>')
    .option('-c, --config <key=value>', 'Config key/value to apply to the target instance', collect)
    .option('-d, --device <device,key=value>', 'New key/value to apply to a specific device', collect)
    .option('-p, --profile <profile>', 'Profile to apply to the target instance', collect)
    .option('--no-profiles', 'Unset all profiles on the target instance')
    .option('--instance-only', 'Move the instance without its snapshots')
    .option('-s, --storage <pool>', 'Storage pool name')
    .option('--mode <mode>', 'Transfer mode. One of pull, push or relay', 'pull')
    .option('--stateless', 'Copy a stateful instance stateless')
    .option('--refresh', 'Perform an incremental copy')
    .option('--target-project <project>', 'Copy to a project different from the source')
    .option('--allow-inconsistent', 'Ignore copy errors for volatile files')
    .option('--target <member>', 'Cluster member name')
    .action(async (src: string, dst: string | undefined, flags: CopyFlags & { target?: string }) => {
      const e = endpoints(ctx, src, dst);
      if (flags.refresh && !flags.stateless) throw new Error('--refresh can only be used with --stateless');
      if (flags.target !== undefined) {
        if (e.between || (dst !== undefined && localName(dst) !== localName(src))) throw new Error('--target can only be used to move an instance within a cluster, keeping its name');
        await (await ctx.client().moveInstanceToMember(localName(src), flags.target)).wait();
        ctx.exitCode = 0;
        return;
      }
      if (e.between) {
        await copyBetweenServers(ctx, e.from, e.to, flags, true);
        ctx.exitCode = 0;
        return;
      }
      ctx.exitCode = await moveInstance(ctx, src, dst, flags);
    });
}
