/**
 * `incus config show|get|set|unset|edit [instance[/snapshot]]`: an
 * instance's configuration, or the server's when no instance is named;
 * snapshots are handled in config-snapshot.ts, `config device` comes from
 * config-device.ts, and the deprecated `config profile` from profile.ts.
 */
import type { Command } from 'commander';
import type { Instance, InstancePut } from '../../api/instance';
import type { ServerPut } from '../../api/server';
import type { CliContext } from '../context';
import {
  DEPRECATED_KV_WARNING,
  pairsToMap,
  parseConfigGetArgs,
  parseConfigSetArgs,
  parseConfigUnsetArgs,
} from '../config-args';
import { runEdit, type EditSession } from '../edit-loop';
import { configShowText, instanceEditText, putForWire, serverEditText } from '../config-text';
import { getProperty, setProperties, unsetProperties } from '../properties';
import { localName } from '../remote';
import { processTerminal, type Terminal } from '../terminal';
import { instanceWritable, sameValue } from '../writable';
import { decodeYaml, INSTANCE_PUT, SERVER_PUT } from '../yaml-decode';
import { editSnapshot, getSnapshotKey, setSnapshotKeys, showSnapshot, snapshotRef, unsetSnapshotKeys } from './config-snapshot';
import { registerTrust } from './config-trust';
import { registerDevices } from './config-device';
import { registerProfile } from './profile';

/** Flags of `config show|get|set|unset|edit`. */
export interface ConfigFlags {
  expanded?: boolean;
  property?: boolean;
  target?: string;
}

/** `--target` is for cluster members, which only a clustered server has. */
async function checkTarget(ctx: CliContext, instance: string | undefined, flags: ConfigFlags): Promise<void> {
  if (flags.target === undefined) return;
  if (instance !== undefined) throw new Error('--target cannot be used with instances');
  const server = await ctx.client().getServer();
  if (!server.environment?.server_clustered) throw new Error('To use --target, the destination remote must be a cluster');
  throw new Error('--target is not supported by this client yet');
}

/** The same values in every field the struct has (no request needed to "save" them). */
function samePut(a: object, b: object, fields: readonly string[]): boolean {
  return fields.every((f) => sameValue((a as Record<string, unknown>)[f], (b as Record<string, unknown>)[f]));
}

async function showConfig(ctx: CliContext, arg: string | undefined, flags: ConfigFlags): Promise<number> {
  const name = arg === undefined ? undefined : localName(arg);
  await checkTarget(ctx, name, flags);
  if (name === undefined) {
    if (flags.expanded) throw new Error('--expanded cannot be used with a server');
    ctx.out(serverEditText((await ctx.client().getServer()).config ?? {}));
    return 0;
  }
  const snap = snapshotRef(name);
  if (snap) return showSnapshot(ctx, snap, flags.expanded ?? false);
  ctx.out(configShowText(await ctx.client().getInstance(name), flags.expanded ?? false));
  return 0;
}

async function getConfig(ctx: CliContext, args: string[], flags: ConfigFlags): Promise<number> {
  const { target, key } = parseConfigGetArgs(args);
  const name = target === undefined ? undefined : localName(target);
  await checkTarget(ctx, name, flags);
  if (name === undefined) {
    if (flags.expanded) throw new Error('--expanded cannot be used with a server');
    ctx.out(`${(await ctx.client().getServer()).config?.[key] ?? ''}\n`);
    return 0;
  }
  const snap = snapshotRef(name);
  if (snap) return getSnapshotKey(ctx, snap, key, flags);
  const inst = await ctx.client().getInstance(name);
  if (flags.property) {
    try {
      ctx.out(`${getProperty(instanceWritable(inst), INSTANCE_PUT, key)}\n`);
    } catch (err) {
      throw new Error(`The property ${JSON.stringify(key)} does not exist on the instance ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    return 0;
  }
  const config = flags.expanded ? inst.expanded_config : inst.config;
  ctx.out(`${config?.[key] ?? ''}\n`);
  return 0;
}

/** Applies `change` to the instance's writable part and PUTs it back with its ETag. */
async function changeInstance(ctx: CliContext, name: string, change: (put: InstancePut) => void): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await client.getInstanceWithEtag(name);
  const put = instanceWritable(value);
  change(put);
  const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
  await putInstance(client, name, putForWire(put), { etag });
}

/** Merges `values` into the server's config (an empty value removes the key) and PUTs it with its ETag. */
async function changeServer(ctx: CliContext, values: Record<string, string>): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await client.getServerWithEtag();
  await client.updateServer({ config: { ...(value.config ?? {}), ...values } }, { etag });
}

async function setConfig(ctx: CliContext, args: string[], flags: ConfigFlags, term: Terminal): Promise<number> {
  const parsed = parseConfigSetArgs(args);
  for (let i = 0; i < parsed.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
  const name = parsed.target === undefined ? undefined : localName(parsed.target);
  await checkTarget(ctx, name, flags);
  const values = pairsToMap(parsed.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
  if (name === undefined) {
    await changeServer(ctx, values);
    return 0;
  }
  const snap = snapshotRef(name);
  if (snap) return setSnapshotKeys(ctx, snap, values, flags.property ?? false);
  await changeInstance(ctx, name, (put) => {
    if (flags.property) setProperties(put, INSTANCE_PUT, values);
    else Object.assign(put.config, values);
  });
  return 0;
}

async function unsetConfig(ctx: CliContext, args: string[], flags: ConfigFlags): Promise<number> {
  const { target, keys } = parseConfigUnsetArgs(args);
  const name = target === undefined ? undefined : localName(target);
  await checkTarget(ctx, name, flags);
  if (name === undefined) {
    await changeServer(ctx, Object.fromEntries(keys.map((k) => [k, ''])));
    return 0;
  }
  const snap = snapshotRef(name);
  if (snap) return unsetSnapshotKeys(ctx, snap, keys, flags.property ?? false);
  await changeInstance(ctx, name, (put) => {
    if (flags.property) {
      unsetProperties(put, INSTANCE_PUT, keys);
      return;
    }
    for (const k of keys) {
      if (!(k in put.config)) throw new Error(`Can't unset key '${k}', it's not currently set`);
      delete put.config[k];
    }
  });
  return 0;
}

function instanceSession(ctx: CliContext, name: string): () => Promise<EditSession<InstancePut>> {
  return async () => {
    const client = ctx.client();
    const { value, etag } = await client.getInstanceWithEtag(name);
    const current = instanceWritable(value as Instance);
    const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
    return {
      text: instanceEditText(value),
      decode: (text) => decodeYaml<InstancePut>(text, INSTANCE_PUT),
      unchanged: (put) => samePut(put, current, Object.keys(INSTANCE_PUT.fields)),
      save: (put) => putInstance(client, name, putForWire(put), { etag }),
    };
  };
}

function serverSession(ctx: CliContext): () => Promise<EditSession<ServerPut>> {
  return async () => {
    const client = ctx.client();
    const { value, etag } = await client.getServerWithEtag();
    return {
      text: serverEditText(value.config ?? {}),
      decode: (text) => decodeYaml<ServerPut>(text, SERVER_PUT),
      unchanged: (put) => sameValue(put.config, value.config ?? {}),
      save: (put) => client.updateServer(put, { etag }),
    };
  };
}

async function editConfig(ctx: CliContext, arg: string | undefined, flags: ConfigFlags, term: Terminal): Promise<number> {
  const name = arg === undefined ? undefined : localName(arg);
  await checkTarget(ctx, name, flags);
  const client = ctx.client();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  if (name === undefined) {
    await runEdit(io, term, serverSession(ctx), (text) => client.updateServer(decodeYaml<ServerPut>(text, SERVER_PUT)));
    return 0;
  }
  const snap = snapshotRef(name);
  if (snap) return editSnapshot(ctx, snap, term);
  const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
  await runEdit(io, term, instanceSession(ctx, name), (text) =>
    putInstance(client, name, putForWire(decodeYaml<InstancePut>(text, INSTANCE_PUT))),
  );
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const term = processTerminal(ctx.io.env);
  const config = program.command('config').description('Manage instance and server configuration options');
  const target = (c: Command) => c.option('--target <member>', 'Cluster member name');

  target(config.command('show'))
    .description('Show instance or server configurations')
    .argument('[instance]', '[<remote>:]<instance>[/<snapshot>]')
    .option('-e, --expanded', 'Show the expanded configuration')
    .action(async (instance: string | undefined, flags: ConfigFlags) => {
      ctx.exitCode = await showConfig(ctx, instance, flags);
    });

  target(config.command('get'))
    .description('Get values for instance or server configuration keys')
    .argument('[args...]', '[[<remote>:]<instance>[/<snapshot>]] <key>')
    .option('-e, --expanded', 'Access the expanded configuration')
    .option('-p, --property', 'Get the key as an instance property')
    .action(async (args: string[], flags: ConfigFlags) => {
      ctx.exitCode = await getConfig(ctx, args, flags);
    });

  target(config.command('set'))
    .description('Set instance or server configuration keys')
    .argument('[args...]', '[[<remote>:]<instance>[/<snapshot>]] <key>=<value>...')
    .option('-p, --property', 'Set the key as an instance property')
    .action(async (args: string[], flags: ConfigFlags) => {
      ctx.exitCode = await setConfig(ctx, args, flags, term);
    });

  target(config.command('unset'))
    .description('Unset instance or server configuration keys')
    .argument('[args...]', '[[<remote>:]<instance>[/<snapshot>]] <key>...')
    .option('-p, --property', 'Unset the keys as instance properties')
    .action(async (args: string[], flags: ConfigFlags) => {
      ctx.exitCode = await unsetConfig(ctx, args, flags);
    });

  target(config.command('edit'))
    .description('Edit instance or server configurations as YAML')
    .argument('[instance]', '[<remote>:]<instance>[/<snapshot>]')
    .action(async (instance: string | undefined, flags: ConfigFlags) => {
      ctx.exitCode = await editConfig(ctx, instance, flags, term);
    });

  registerDevices(config, ctx, 'instance');
  registerTrust(config, ctx, term);
  registerProfile(config, ctx, true);
}
