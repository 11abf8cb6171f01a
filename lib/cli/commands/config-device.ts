/**
 * `incus config device ...` and `incus profile device ...`: add, get, list,
 * override (instances only), remove, set, show and unset devices of an
 * instance or a profile. Every change is a read with ETag and a full PUT.
 */
import type { Command } from 'commander';
import type { DeviceConfig, DevicesMap } from '../../api/instance';
import type { CliContext } from '../context';
import { DEPRECATED_KV_WARNING, pairsToMap, parseKeyValuesLeft, tooManyArguments, type KeyValueArgs } from '../config-args';
import { devicesText, putForWire } from '../config-text';
import { localName } from '../remote';
import { processTerminal, type Terminal } from '../terminal';
import { instanceWritable, profileWritable } from '../writable';

/** Whose devices a command works on. */
export type DeviceOwnerKind = 'instance' | 'profile';

/** An owner's devices as read, and how to write them back. */
interface LoadedDevices {
  /** The owner's own devices (for an instance: not those from its profiles). */
  devices: DevicesMap;
  /** Instances only: devices after profile expansion. */
  expanded?: DevicesMap;
  /** Writes `devices` back, refused if the owner changed since it was read. */
  save(devices: DevicesMap): Promise<void>;
}

async function loadDevices(ctx: CliContext, kind: DeviceOwnerKind, name: string): Promise<LoadedDevices> {
  const client = ctx.client();
  if (kind === 'profile') {
    const { value, etag } = await client.getProfileWithEtag(name);
    const put = profileWritable(value);
    return { devices: put.devices, save: (devices) => client.updateProfile(name, { ...put, devices }, { etag }) };
  }
  const { value, etag } = await client.getInstanceWithEtag(name);
  const put = instanceWritable(value);
  const { putInstance } = require('../../client/instance-update') as typeof import('../../client/instance-update');
  return {
    devices: put.devices,
    expanded: value.expanded_devices ?? {},
    save: (devices) => putInstance(client, name, putForWire({ ...put, devices }), { etag }),
  };
}

/** The device `dev` an instance or profile defines itself, with Incus's errors when it has none. */
function ownDevice(loaded: LoadedDevices, dev: string, action: 'retrieved' | 'modified'): DeviceConfig {
  const found = loaded.devices[dev];
  if (found) return found;
  if (loaded.expanded?.[dev]) {
    throw new Error(
      action === 'retrieved'
        ? 'Device from profile(s) cannot be retrieved for individual instance'
        : 'Device from profile(s) cannot be modified for individual instance. Override device or modify profile instead',
    );
  }
  throw new Error("Device doesn't exist");
}

/** key=value arguments that must all be pairs. */
function pairs(ctx: CliContext, args: readonly string[], min: number, term: Terminal): Record<string, string> {
  const kv: KeyValueArgs = parseKeyValuesLeft(args, min);
  if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
  for (let i = 0; i < kv.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
  return pairsToMap(kv.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
}

async function addDevice(ctx: CliContext, kind: DeviceOwnerKind, name: string, dev: string, type: string, kv: Record<string, string>): Promise<void> {
  const loaded = await loadDevices(ctx, kind, name);
  if (loaded.devices[dev]) throw new Error('The device already exists');
  await loaded.save({ ...loaded.devices, [dev]: { ...kv, type } });
  ctx.say(`Device ${dev} added to ${name}\n`);
}

async function removeDevices(ctx: CliContext, kind: DeviceOwnerKind, name: string, devs: string[]): Promise<void> {
  const loaded = await loadDevices(ctx, kind, name);
  const devices = { ...loaded.devices };
  const errors: string[] = [];
  for (const dev of devs) {
    if (devices[dev]) delete devices[dev];
    else if (loaded.expanded?.[dev]) {
      errors.push(`Device from profile(s) cannot be removed from individual instance. Override device “${dev}” or modify profile instead`);
    } else errors.push(`Device “${dev}” doesn't exist`);
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
  await loaded.save(devices);
  ctx.say(`Device ${devs.join(', ')} removed from ${name}\n`);
}

async function changeDevice(ctx: CliContext, kind: DeviceOwnerKind, name: string, dev: string, change: (d: DeviceConfig) => void): Promise<void> {
  const loaded = await loadDevices(ctx, kind, name);
  const device = { ...ownDevice(loaded, dev, 'modified') };
  change(device);
  await loaded.save({ ...loaded.devices, [dev]: device });
}

async function overrideDevice(ctx: CliContext, name: string, dev: string, kv: Record<string, string>): Promise<void> {
  const loaded = await loadDevices(ctx, 'instance', name);
  if (loaded.devices[dev]) throw new Error('The device already exists');
  const inherited = loaded.expanded?.[dev];
  if (!inherited) throw new Error("The profile device doesn't exist");
  await loaded.save({ ...loaded.devices, [dev]: { ...inherited, ...kv } });
  ctx.say(`Device ${dev} overridden for ${name}\n`);
}

/** Adds `device` and its subcommands under `parent` (`config` or `profile`). */
export function registerDevices(parent: Command, ctx: CliContext, kind: DeviceOwnerKind): void {
  const term = processTerminal(ctx.io.env);
  const owner = kind === 'instance' ? '[<remote>:]<instance>' : '[<remote>:]<profile>';
  const device = parent.command('device').description('Manage devices');

  device
    .command('add')
    .alias('create')
    .description('Add instance devices')
    .argument(`<${kind}>`, owner)
    .argument('<device>', 'New device name')
    .argument('<type>', 'Device type')
    .argument('[key=value...]', 'Device configuration')
    .action(async (target: string, dev: string, type: string, args: string[]) => {
      await addDevice(ctx, kind, localName(target), dev, type, pairs(ctx, args, 0, term));
    });

  device
    .command('get')
    .description('Get values for device configuration keys')
    .argument(`<${kind}>`, owner)
    .argument('<device>', 'Device name')
    .argument('<key>', 'Configuration key')
    .action(async (target: string, dev: string, key: string) => {
      const loaded = await loadDevices(ctx, kind, localName(target));
      ctx.out(`${ownDevice(loaded, dev, 'retrieved')[key] ?? ''}\n`);
    });

  device
    .command('list')
    .alias('ls')
    .description('List instance devices')
    .argument(`<${kind}>`, owner)
    .action(async (target: string) => {
      const loaded = await loadDevices(ctx, kind, localName(target));
      ctx.out(`${Object.keys(loaded.devices).sort().join('\n')}\n`);
    });

  if (kind === 'instance') {
    device
      .command('override')
      .description('Copy profile inherited devices and override configuration keys')
      .argument('<instance>', owner)
      .argument('<device>', 'Device name')
      .argument('[key=value...]', 'Keys to change in the copy')
      .action(async (target: string, dev: string, args: string[]) => {
        await overrideDevice(ctx, localName(target), dev, pairs(ctx, args, 0, term));
      });
  }

  device
    .command('remove')
    .aliases(['delete', 'rm'])
    .description('Remove instance devices')
    .argument(`<${kind}>`, owner)
    .argument('<device...>', 'Device names')
    .action(async (target: string, devs: string[]) => {
      await removeDevices(ctx, kind, localName(target), devs);
    });

  device
    .command('set')
    .description('Set device configuration keys')
    .argument(`<${kind}>`, owner)
    .argument('<device>', 'Device name')
    .argument('[key=value...]', 'Keys to set')
    .action(async (target: string, dev: string, args: string[]) => {
      const values = pairs(ctx, args, 1, term);
      await changeDevice(ctx, kind, localName(target), dev, (d) => Object.assign(d, values));
    });

  device
    .command('show')
    .description('Show full device configuration')
    .argument(`<${kind}>`, owner)
    .action(async (target: string) => {
      ctx.out(devicesText((await loadDevices(ctx, kind, localName(target))).devices));
    });

  device
    .command('unset')
    .description('Unset device configuration keys')
    .argument(`<${kind}>`, owner)
    .argument('<device>', 'Device name')
    .argument('<key...>', 'Keys to unset')
    .action(async (target: string, dev: string, keys: string[]) => {
      await changeDevice(ctx, kind, localName(target), dev, (d) => {
        for (const k of keys) delete d[k];
      });
    });
}
