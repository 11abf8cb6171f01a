/**
 * `incus network ...`: managed networks (list, show, create, delete, rename,
 * get, set, unset, edit, info, list-leases) and attaching them to
 * instances and profiles (network-attach.ts). Listings: network-list.ts;
 * forwards: network-forward.ts.
 */
import type { Command } from 'commander';
import type { NetworkPut } from '../../api/network';
import type { CliContext } from '../context';
import { DEPRECATED_KV_WARNING, pairsToMap, parseKeyValuesLeft, tooManyArguments } from '../config-args';
import { runEdit } from '../edit-loop';
import { orderKeys } from '../format/go-order';
import { networkInfoText } from '../format/network-info';
import { renderYaml } from '../format/yaml';
import { getProperty, setProperties, unsetProperties } from '../properties';
import { localName } from '../remote';
import { processTerminal, type Terminal } from '../terminal';
import { sameValue } from '../writable';
import { decodeYaml, type StructSpec } from '../yaml-decode';
import { attachNetwork, detachNetwork } from './network-attach';
import { registerForward } from './network-forward';
import { DEFAULT_ALLOCATION_COLUMNS, DEFAULT_LEASE_COLUMNS, DEFAULT_NETWORK_COLUMNS, type NetworkListFlags, listAllocations, listLeases, listNetworks, networkShape } from './network-list';

type NetworksApi = typeof import('../../client/networks');
const api = (): NetworksApi => require('../../client/networks') as NetworksApi;

/** api.NetworkPut */
export const NETWORK_PUT: StructSpec = { name: 'api.NetworkPut', fields: { config: 'stringMap', description: 'string' } };

const EDIT_HELP = [
  '### The network as YAML; lines starting with "#" are ignored.',
  '### Change config or description and save to apply them. The other fields',
  '### are shown for reference only (use `incus network rename` to rename).',
].join('\n');

interface PropertyFlags {
  property?: boolean;
}

function writable(n: { config?: Record<string, string>; description?: string }): NetworkPut {
  return { config: { ...(n.config ?? {}) }, description: n.description ?? '' };
}

/** key=value arguments (at least `min`), `-` reading the value from stdin. */
function pairs(ctx: CliContext, args: readonly string[], min: number, term: Terminal): Record<string, string> {
  const kv = parseKeyValuesLeft(args, min);
  if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
  for (let i = 0; i < kv.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
  return pairsToMap(kv.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
}

async function changeNetwork(ctx: CliContext, name: string, change: (put: NetworkPut) => void): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await api().getNetworkWithEtag(client, name);
  if (!value.managed) throw new Error('Only managed networks can be modified');
  const put = writable(value);
  change(put);
  await api().updateNetwork(client, name, put, { etag });
}

async function createNetwork(ctx: CliContext, arg: string, args: string[], flags: { type?: string; description?: string; target?: string }, term: Terminal): Promise<number> {
  const name = localName(arg);
  const put: NetworkPut = term.stdinIsTerminal() || args.length > 0 ? { config: {}, description: '' } : decodeYaml<NetworkPut>(term.readStdin(), NETWORK_PUT);
  if (args.length > 0) Object.assign(put.config, pairs(ctx, args, 0, term));
  if (flags.description !== undefined) put.description = flags.description;
  await api().createNetwork(ctx.client(), { ...put, name, type: flags.type ?? '' }, { target: flags.target });
  ctx.say(flags.target ? `Network ${name} pending on member ${flags.target}\n` : `Network ${name} created\n`);
  return 0;
}

async function editNetwork(ctx: CliContext, arg: string, term: Terminal): Promise<number> {
  const name = localName(arg);
  const client = ctx.client();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const save = (put: NetworkPut, etag?: string) => api().updateNetwork(client, name, put, { etag });
  const session = async () => {
    const { value, etag } = await api().getNetworkWithEtag(client, name);
    if (!value.managed) throw new Error('Only managed networks can be modified');
    const current = writable(value);
    return {
      text: `${EDIT_HELP}\n\n${renderYaml(orderKeys(value, networkShape))}`,
      decode: (text: string) => decodeYaml<NetworkPut>(text, NETWORK_PUT),
      unchanged: (put: NetworkPut) => sameValue(put.config, current.config) && sameValue(put.description, current.description),
      save: (put: NetworkPut) => save(put, etag),
    };
  };
  await runEdit(io, term, session, (text) => save(decodeYaml<NetworkPut>(text, NETWORK_PUT)));
  return 0;
}

async function getKey(ctx: CliContext, arg: string, key: string, flags: PropertyFlags): Promise<number> {
  const name = localName(arg);
  const net = await api().getNetwork(ctx.client(), name);
  if (!flags.property) {
    ctx.out(`${net.config?.[key] ?? ''}\n`);
    return 0;
  }
  try {
    ctx.out(`${getProperty(writable(net), NETWORK_PUT, key)}\n`);
  } catch (err) {
    throw new Error(`The property ${JSON.stringify(key)} does not exist on the network ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const term = processTerminal(ctx.io.env);
  const network = program.command('network').description('Manage and attach instances to networks');
  registerForward(network, ctx, term);

  network
    .command('attach')
    .description('Attach network interfaces to instances')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<instance>', 'Instance name')
    .argument('[device]', 'Device name (default: the network name)')
    .argument('[interface]', 'Interface name inside the instance')
    .action(async (net: string, inst: string, dev?: string, iface?: string) => {
      ctx.exitCode = await attachNetwork(ctx, 'instance', net, inst, dev, iface);
    });

  network
    .command('attach-profile')
    .description('Attach network interfaces to profiles')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<profile>', 'Profile name')
    .argument('[device]', 'Device name (default: the network name)')
    .argument('[interface]', 'Interface name inside the instance')
    .action(async (net: string, profile: string, dev?: string, iface?: string) => {
      ctx.exitCode = await attachNetwork(ctx, 'profile', net, profile, dev, iface);
    });

  network
    .command('create')
    .description('Create new networks')
    .argument('<network>', '[<remote>:]<network>')
    .argument('[key=value...]', 'Config keys')
    .option('-t, --type <type>', 'Network type')
    .option('--description <text>', 'Network description')
    .option('--target <member>', 'Cluster member name')
    .action(async (arg: string, args: string[], flags: { type?: string; description?: string; target?: string }) => {
      ctx.exitCode = await createNetwork(ctx, arg, args, flags, term);
    });

  network
    .command('delete')
    .alias('rm')
    .description('Delete networks')
    .argument('<network...>', '[<remote>:]<network>')
    .action(async (args: string[]) => {
      const errors: string[] = [];
      for (const arg of args) {
        const name = localName(arg);
        try {
          await api().deleteNetwork(ctx.client(), name);
          ctx.say(`Network ${name} deleted\n`);
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      if (errors.length > 0) throw new Error(errors.join('\n'));
    });

  network
    .command('detach')
    .description('Detach network interfaces from instances')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<instance>', 'Instance name')
    .argument('[device]', 'Device name')
    .action(async (net: string, inst: string, dev?: string) => {
      ctx.exitCode = await detachNetwork(ctx, 'instance', net, inst, dev);
    });

  network
    .command('detach-profile')
    .description('Detach network interfaces from profiles')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<profile>', 'Profile name')
    .argument('[device]', 'Device name')
    .action(async (net: string, profile: string, dev?: string) => {
      ctx.exitCode = await detachNetwork(ctx, 'profile', net, profile, dev);
    });

  network
    .command('edit')
    .description('Edit network configurations as YAML')
    .argument('<network>', '[<remote>:]<network>')
    .action(async (arg: string) => {
      ctx.exitCode = await editNetwork(ctx, arg, term);
    });

  network
    .command('get')
    .description('Get values for network configuration keys')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<key>', 'Configuration key')
    .option('-p, --property', 'Get the key as a network property')
    .action(async (arg: string, key: string, flags: PropertyFlags) => {
      ctx.exitCode = await getKey(ctx, arg, key, flags);
    });

  network
    .command('info')
    .description('Get runtime information on networks')
    .argument('<network>', '[<remote>:]<network>')
    .action(async (arg: string) => {
      const name = localName(arg);
      ctx.out(networkInfoText(name, await api().getNetworkState(ctx.client(), name)));
    });

  network
    .command('list')
    .alias('ls')
    .description('List available networks')
    .argument('[filters...]', 'Optional [<remote>:] followed by filters')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_NETWORK_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .option('--all-projects', 'List networks in all projects')
    .action(async (filters: string[], flags: NetworkListFlags) => {
      const rest = [...filters];
      if (rest[0]?.endsWith(':')) localName(rest.shift()!);
      ctx.exitCode = await listNetworks(ctx, rest, flags);
    });

  network
    .command('list-leases')
    .description('List DHCP leases')
    .argument('<network>', '[<remote>:]<network>')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_LEASE_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action(async (arg: string, flags: NetworkListFlags) => {
      ctx.exitCode = await listLeases(ctx, localName(arg), flags);
    });

  network
    .command('list-allocations')
    .description('List network allocations in use')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_ALLOCATION_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .option('--all-projects', 'Run against all projects')
    .option('--summary', 'Show a summary of used IP ranges per subnet')
    .action(async (remote: string | undefined, flags: NetworkListFlags) => {
      if (remote) localName(remote.endsWith(':') ? remote : `${remote}:`);
      ctx.exitCode = await listAllocations(ctx, flags);
    });

  network
    .command('rename')
    .alias('mv')
    .description('Rename networks')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<new-name>', 'New network name')
    .action(async (arg: string, to: string) => {
      const name = localName(arg);
      await api().renameNetwork(ctx.client(), name, to);
      ctx.say(`Network ${name} renamed to ${to}\n`);
    });

  network
    .command('set')
    .description('Set network configuration keys')
    .argument('<network>', '[<remote>:]<network>')
    .argument('[key=value...]', 'Keys to set')
    .option('-p, --property', 'Set the key as a network property')
    .action(async (arg: string, args: string[], flags: PropertyFlags) => {
      const values = pairs(ctx, args, 1, term);
      await changeNetwork(ctx, localName(arg), (put) => {
        if (flags.property) setProperties(put, NETWORK_PUT, values);
        else Object.assign(put.config, values);
      });
    });

  network
    .command('show')
    .description('Show network configurations')
    .argument('<network>', '[<remote>:]<network>')
    .option('--target <member>', 'Cluster member name')
    .action(async (arg: string, flags: { target?: string }) => {
      ctx.out(renderYaml(orderKeys(await api().getNetwork(ctx.client(), localName(arg), { target: flags.target }), networkShape)));
    });

  network
    .command('unset')
    .description('Unset network configuration keys')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<key...>', 'Keys to unset')
    .option('-p, --property', 'Unset the keys as network properties')
    .action(async (arg: string, keys: string[], flags: PropertyFlags) => {
      await changeNetwork(ctx, localName(arg), (put) => {
        if (flags.property) unsetProperties(put, NETWORK_PUT, keys);
        else for (const k of keys) delete put.config[k];
      });
    });
}
