/**
 * `incus network forward ...`: a managed network's forwards (create, delete,
 * show, get, set, unset), with Incus's messages.
 */
import type { Command } from 'commander';
import type { NetworkForward, NetworkForwardPut } from '../../api/network-forward';
import type { CliContext } from '../context';
import { DEPRECATED_KV_WARNING, pairsToMap, parseKeyValuesLeft, tooManyArguments } from '../config-args';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import type { Terminal } from '../terminal';

type ForwardsApi = typeof import('../../client/network-forwards');
const api = (): ForwardsApi => require('../../client/network-forwards') as ForwardsApi;

/** Field order of api.NetworkForward in Incus's YAML. */
function ordered(f: NetworkForward): Record<string, unknown> {
  return { description: f.description, config: f.config ?? {}, ports: f.ports ?? [], listen_address: f.listen_address, location: f.location };
}

function writable(f: NetworkForward): NetworkForwardPut {
  return { config: { ...(f.config ?? {}) }, description: f.description ?? '', ports: [...(f.ports ?? [])] };
}

/** key=value arguments (at least `min`), `-` reading the value from stdin. */
function pairs(ctx: CliContext, args: readonly string[], min: number, term: Terminal): Record<string, string> {
  const kv = parseKeyValuesLeft(args, min);
  if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
  for (let i = 0; i < kv.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
  return pairsToMap(kv.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
}

async function changeForward(ctx: CliContext, network: string, address: string, change: (put: NetworkForwardPut) => void): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await api().getNetworkForwardWithEtag(client, network, address);
  const put = writable(value);
  change(put);
  await api().updateNetworkForward(client, network, address, put, { etag });
}

/** Adds `forward` and its commands under the `network` command. */
export function registerForward(network: Command, ctx: CliContext, term: Terminal): void {
  const forward = network.command('forward').description('Manage network forwards');

  forward
    .command('create')
    .description('Create new network forwards')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<listen-address>', 'Listen address')
    .argument('[key=value...]', 'Config keys')
    .option('--description <text>', 'Network forward description')
    .action(async (arg: string, address: string, args: string[], flags: { description?: string }) => {
      const config = pairs(ctx, args, 0, term);
      await api().createNetworkForward(ctx.client(), localName(arg), { listen_address: address, config, description: flags.description ?? '', ports: [] });
      ctx.say(`Network forward ${address} created\n`);
    });

  forward
    .command('delete')
    .alias('rm')
    .description('Delete network forwards')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<listen-address>', 'Listen address')
    .action(async (arg: string, address: string) => {
      await api().deleteNetworkForward(ctx.client(), localName(arg), address);
      ctx.say(`Network forward ${address} deleted\n`);
    });

  forward
    .command('show')
    .description('Show network forward configurations')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<listen-address>', 'Listen address')
    .action(async (arg: string, address: string) => {
      const { value } = await api().getNetworkForwardWithEtag(ctx.client(), localName(arg), address);
      ctx.out(renderYaml(ordered(value)));
    });

  forward
    .command('get')
    .description('Get values for network forward configuration keys')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<listen-address>', 'Listen address')
    .argument('<key>', 'Configuration key')
    .action(async (arg: string, address: string, key: string) => {
      const { value } = await api().getNetworkForwardWithEtag(ctx.client(), localName(arg), address);
      ctx.out(`${value.config?.[key] ?? ''}\n`);
    });

  forward
    .command('set')
    .description('Set network forward keys')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<listen-address>', 'Listen address')
    .argument('<key=value...>', 'Keys to set')
    .action(async (arg: string, address: string, args: string[]) => {
      const values = pairs(ctx, args, 1, term);
      await changeForward(ctx, localName(arg), address, (put) => Object.assign(put.config, values));
    });

  forward
    .command('unset')
    .description('Unset network forward configuration keys')
    .argument('<network>', '[<remote>:]<network>')
    .argument('<listen-address>', 'Listen address')
    .argument('<key...>', 'Keys to unset')
    .action(async (arg: string, address: string, keys: string[]) => {
      await changeForward(ctx, localName(arg), address, (put) => {
        for (const k of keys) delete put.config[k];
      });
    });
}
