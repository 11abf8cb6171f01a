/** `incus create` (alias `init`) and `incus launch`. */
import type { Command } from 'commander';
import type { DevicesMap, InstancesPost } from '../../api/instance';
import { nameFromUrl } from '../../client/client';
import type { CliContext } from '../context';
import { noNetworkWarning, withShowLogHint } from '../hints';
import { collect } from '../option-parsers';
import { resolveImage } from '../image-ref';
import { parseDeviceOverrides, parseKeyValues, quote } from '../kv';
import { localName } from '../remote';
import { parseImageArg, remoteImageSource } from '../launch-source';
import { ProgressLine, waitShowingProgress } from '../progress';

/** Options shared by `create` and `launch`. */
export interface CreateFlags {
  config?: string[];
  profile?: string[];
  device?: string[];
  ephemeral?: boolean;
  /** false when --no-profiles was given. */
  profiles?: boolean;
  empty?: boolean;
  vm?: boolean;
  storage?: string;
  network?: string;
  type?: string;
  description?: string;
  /** Cluster member to create the instance on. */
  target?: string;
}

/** Applies `-d dev,key=value` overrides, pulling devices from the profiles when needed. */
async function applyDeviceOverrides(
  ctx: CliContext,
  devices: DevicesMap,
  overrides: Record<string, Record<string, string>>,
  profiles: string[] | undefined,
): Promise<void> {
  const fromProfiles: DevicesMap = {};
  if (Object.keys(overrides).some((d) => !(d in devices))) {
    // With no profiles given, the server applies "default".
    const names = profiles && profiles.length > 0 ? profiles : ['default'];
    for (const name of names) {
      let profile;
      try {
        profile = await ctx.client().getProfile(name);
      } catch (err) {
        throw new Error(`Failed loading profile ${quote(name)} for device override: ${(err as Error).message}`);
      }
      Object.assign(fromProfiles, profile.devices);
    }
  }
  for (const [dev, keys] of Object.entries(overrides)) {
    if (devices[dev]) {
      Object.assign(devices[dev], keys);
      continue;
    }
    const base = fromProfiles[dev];
    if (!base) throw new Error(`Cannot override config for device ${quote(dev)}: Device not found in profile devices`);
    devices[dev] = { ...base, ...keys };
  }
}

/**
 * Creates (and with `launch`, starts) an instance. `args` is
 * `[image, name?]`, or `[name?]` with --empty.
 */
export async function createInstance(ctx: CliContext, args: string[], flags: CreateFlags, launch: boolean): Promise<number> {
  const [imageArg, nameArg] = flags.empty ? [undefined, args[0]] : [args[0], args[1]];
  if (flags.empty && args.length > 1) throw new Error(`too many arguments; unexpected ${quote(args[1]!)}`);
  if (!flags.empty && imageArg === undefined) {
    throw new Error('not enough arguments; expected a value for "[<remote>:]<image>" or "--empty"');
  }
  const client = ctx.client();
  // Remote prefixes are checked before anything is printed, as in Incus.
  const imageRef = imageArg === undefined ? undefined : parseImageArg(ctx, imageArg);
  const requested = nameArg === undefined ? undefined : localName(nameArg);
  const server = await client.getServer();
  const serverStarts = launch && (server.api_extensions ?? []).includes('instance_create_start');

  const verb = serverStarts ? 'Launching' : 'Creating';
  ctx.say(requested !== undefined ? `${verb} ${requested}\n` : `${verb} the instance\n`);

  const profiles = flags.profile && flags.profile.length > 0 ? flags.profile : flags.profiles === false ? [] : undefined;
  const config = parseKeyValues(flags.config ?? []);
  const devices: DevicesMap = {};
  if (flags.storage) {
    try {
      await client.getStoragePool(flags.storage);
    } catch (err) {
      throw new Error(`Failed loading storage pool ${quote(flags.storage)}: ${(err as Error).message}`);
    }
    devices.root = { type: 'disk', path: '/', pool: flags.storage };
  }
  if (flags.network) {
    const { getNetwork } = require('../../client/networks') as typeof import('../../client/networks');
    const { nicForNetwork } = require('./network-attach') as typeof import('./network-attach');
    try {
      devices.eth0 = nicForNetwork(await getNetwork(client, flags.network), 'eth0');
    } catch (err) {
      throw new Error(`Failed loading network ${quote(flags.network)}: ${(err as Error).message}`);
    }
  }
  await applyDeviceOverrides(ctx, devices, parseDeviceOverrides(flags.device ?? []), profiles);

  const req: InstancesPost = {
    name: requested,
    type: flags.vm ? 'virtual-machine' : 'container',
    instance_type: flags.type,
    start: serverStarts,
    config,
    devices,
    ephemeral: flags.ephemeral ?? false,
    profiles,
    description: flags.description,
  };
  if (imageRef === undefined) {
    req.source = { type: 'none' };
  } else if (!imageRef.local) {
    req.source = await remoteImageSource(ctx, imageRef.remote, imageRef.name, flags.vm === true);
  } else {
    const { image } = await resolveImage(client, imageRef.name);
    if (flags.vm && image.type !== 'virtual-machine') throw new Error('Asked for a VM but image is of type container');
    req.type = image.type;
    req.source = { type: 'image', fingerprint: image.fingerprint };
  }

  const line = new ProgressLine(ctx.io.out, 'Retrieving image: %s', ctx.globals.quiet);
  const done = await waitShowingProgress(await client.createInstance(req, { target: flags.target }), line).finally(() => line.done());
  const created = done.resources?.instances ?? [];
  if (created.length === 0) throw new Error("Didn't get name of new instance from the server");
  let name = requested;
  if (name === undefined) {
    name = nameFromUrl(created[0]!);
    ctx.out(`Instance name is: ${name}\n`);
  }

  try {
    ctx.err(noNetworkWarning(await client.getInstance(name)));
  } catch {
    // Incus skips the network check silently when it cannot read the instance.
  }

  if (launch && !serverStarts) {
    ctx.say(`Starting ${name}\n`);
    try {
      await (await client.updateInstanceState(name, { action: 'start', timeout: -1 })).wait();
    } catch (err) {
      throw withShowLogHint(err, name, ctx.projectName);
    }
  }
  return 0;
}

function addFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <key=value>', 'Config key/value to apply to the new instance (may be passed multiple times)', collect)
    .option('-p, --profile <profile>', 'Profile to apply to the new instance (may be passed multiple times)', collect)
    .option('-d, --device <device,key=value>', 'New key/value to apply to a specific device (may be passed multiple times)', collect)
    .option('-e, --ephemeral', 'Ephemeral instance')
    .option('-s, --storage <pool>', 'Storage pool name')
    .option('-n, --network <network>', 'Network name')
    .option('-t, --type <type>', 'Instance type')
    .option('--no-profiles', 'Create the instance with no profiles applied')
    .option('--empty', 'Create an empty instance')
    .option('--vm', 'Create a virtual machine')
    .option('--description <text>', 'Instance description')
    .option('--target <member>', 'Cluster member name');
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  addFlags(
    program
      .command('create')
      .alias('init')
      .description('Create instances from images')
      .argument('[image]', '[<remote>:]<image>')
      .argument('[name]', 'Instance name'),
  ).action(async (image: string | undefined, name: string | undefined, flags: CreateFlags) => {
    ctx.exitCode = await createInstance(ctx, [image, name].filter((a): a is string => a !== undefined), flags, false);
  });

  addFlags(
    program
      .command('launch')
      .description('Create and start instances from images')
      .argument('[image]', '[<remote>:]<image>')
      .argument('[name]', 'Instance name'),
  ).action(async (image: string | undefined, name: string | undefined, flags: CreateFlags) => {
    ctx.exitCode = await createInstance(ctx, [image, name].filter((a): a is string => a !== undefined), flags, true);
  });
}
