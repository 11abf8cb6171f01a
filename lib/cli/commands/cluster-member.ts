/**
 * `incus cluster remove|rename|edit|get|set|unset`: removing a member (with
 * Incus's prompt for --force without --yes), a member's name, and its
 * writable part (description, config, roles, failure domain, groups) as
 * Incus's cluster.go changes it: set and unset read the member and PUT it
 * back without an ETag; unset sets the keys to "" (the server drops them).
 */
import type { Command } from 'commander';
import type { ClusterMember, ClusterMemberPut } from '../../api/cluster';
import type { CliContext } from '../context';
import { DEPRECATED_KV_WARNING, pairsToMap, parseKeyValuesLeft, tooManyArguments } from '../config-args';
import { runEdit } from '../edit-loop';
import { orderKeys, struct, type Shape } from '../format/go-order';
import { renderYaml } from '../format/yaml';
import { getProperty, setProperties, unsetProperties } from '../properties';
import { readLine } from '../read-line';
import { localName } from '../remote';
import { processTerminal, type Terminal } from '../terminal';
import { sameValue } from '../writable';
import { CLUSTER_MEMBER_PUT, decodeYaml } from '../yaml-decode';

type ClusterApi = typeof import('../../client/cluster');
const api = (): ClusterApi => require('../../client/cluster') as ClusterApi;

type PropertyFlags = { property?: boolean };

const EDIT_HELP = "### This is a YAML representation of the cluster member.\n### Any line starting with a '# will be ignored.";

/** api.ClusterMemberPut in Go's field order. */
const putShape: Shape = struct([
  ['roles', null],
  ['failure_domain', null],
  ['description', null],
  ['config', null],
  ['groups', null],
]);

/** The member's writable part (Incus's Writable()). */
function writable(m: ClusterMember): ClusterMemberPut {
  return { roles: m.roles ?? [], failure_domain: m.failure_domain, description: m.description, config: { ...(m.config ?? {}) }, groups: m.groups ?? [] };
}

async function editMember(ctx: CliContext, name: string, term: Terminal): Promise<void> {
  const client = ctx.client();
  const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
  const decode = (text: string): ClusterMemberPut => decodeYaml<ClusterMemberPut>(text, CLUSTER_MEMBER_PUT);
  const session = async () => {
    const { value, etag } = await api().getClusterMemberWithEtag(client, name);
    const current = writable(value);
    return {
      text: `${EDIT_HELP}\n\n${renderYaml(orderKeys(current, putShape))}`,
      decode,
      unchanged: (put: ClusterMemberPut) => (['config', 'description', 'roles', 'failure_domain', 'groups'] as const).every((f) => sameValue(put[f], current[f])),
      save: (put: ClusterMemberPut) => api().updateClusterMember(client, name, put, { etag }),
    };
  };
  await runEdit(io, term, session, (text) => api().updateClusterMember(client, name, decode(text)));
}

async function getMemberKey(ctx: CliContext, name: string, key: string, flags: PropertyFlags): Promise<void> {
  const member = await api().getClusterMember(ctx.client(), name);
  if (flags.property) {
    try {
      ctx.out(`${getProperty(writable(member), CLUSTER_MEMBER_PUT, key)}\n`);
    } catch (err) {
      throw new Error(`The property ${JSON.stringify(key)} does not exist on the cluster member ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    return;
  }
  const value = member.config?.[key];
  if (value === undefined) throw new Error(`The key ${JSON.stringify(key)} does not exist on cluster member ${JSON.stringify(name)}`);
  ctx.out(`${value}\n`);
}

/** Reads the member, applies `change` to its writable part and PUTs it back (no ETag, as Incus). */
async function changeMember(ctx: CliContext, name: string, change: (put: ClusterMemberPut) => void): Promise<void> {
  const client = ctx.client();
  const put = writable(await api().getClusterMember(client, name));
  change(put);
  await api().updateClusterMember(client, name, put);
}

/** Incus's cmdClusterRemove.promptConfirmation text. */
const FORCE_REMOVE_PROMPT = `Forcefully removing a server from the cluster should only be done as a last
resort.

The removed server will not be functional after this action and will require a
full reset, losing any remaining instance, image or storage volume that
the server may have held.

When possible, a graceful removal should be preferred, this will require you to
move any affected instance, image or storage volume to another server prior to
the server being cleanly removed from the cluster.

The --force flag should only be used if the server has died, been reinstalled
or is otherwise never expected to come back up.

Are you really sure you want to force removing %s? (yes/no): `;

export function registerMemberCommands(cluster: Command, ctx: CliContext): void {
  const term = processTerminal(ctx.io.env);

  cluster
    .command('remove')
    .alias('rm')
    .description('Remove a member from the cluster')
    .argument('<member>', '[<remote>:]<member>')
    .option('-f, --force', 'Force removing a member, even if degraded')
    .option('--yes', "Don't require user confirmation for using --force")
    .action(async (arg: string, flags: { force?: boolean; yes?: boolean }) => {
      const name = localName(arg);
      if (flags.force && !flags.yes) {
        ctx.io.out.write(FORCE_REMOVE_PROMPT.replace('%s', name));
        const answer = (await readLine()).toLowerCase();
        if (answer !== 'yes') throw new Error('User aborted delete operation');
      }
      await api().deleteClusterMember(ctx.client(), name, flags.force === true);
      ctx.say(`Member ${name} removed\n`);
    });

  cluster
    .command('rename')
    .alias('mv')
    .description('Rename a cluster member')
    .argument('<member>', '[<remote>:]<member>')
    .argument('<new-name>', 'New member name')
    .action(async (arg: string, newName: string) => {
      const name = localName(arg);
      await api().renameClusterMember(ctx.client(), name, newName);
      ctx.say(`Member ${name} renamed to ${newName}\n`);
    });

  cluster
    .command('edit')
    .description('Edit cluster member configurations as YAML')
    .argument('<member>', '[<remote>:]<member>')
    .action(async (arg: string) => {
      await editMember(ctx, localName(arg), term);
    });

  cluster
    .command('get')
    .description('Get values for cluster member configuration keys')
    .argument('<member>', '[<remote>:]<member>')
    .argument('<key>', 'Configuration key')
    .option('-p, --property', 'Get the key as a cluster property')
    .action(async (arg: string, key: string, flags: PropertyFlags) => {
      await getMemberKey(ctx, localName(arg), key, flags);
    });

  cluster
    .command('set')
    .description('Set a cluster member\'s configuration keys')
    .argument('<member>', '[<remote>:]<member>')
    .argument('[key=value...]', 'Keys to set')
    .option('-p, --property', 'Set the key as a cluster property')
    .action(async (arg: string, args: string[], flags: PropertyFlags) => {
      const kv = parseKeyValuesLeft(args, 1);
      if (kv.rest.length > 0) throw tooManyArguments(kv.rest);
      for (let i = 0; i < kv.deprecated; i++) ctx.err(DEPRECATED_KV_WARNING);
      const values = pairsToMap(kv.pairs, { isTerminal: () => term.stdinIsTerminal(), read: () => term.readStdin() });
      await changeMember(ctx, localName(arg), (put) => {
        if (flags.property) setProperties(put, CLUSTER_MEMBER_PUT, values);
        else Object.assign(put.config, values);
      });
    });

  cluster
    .command('unset')
    .description('Unset a cluster member\'s configuration keys')
    .argument('<member>', '[<remote>:]<member>')
    .argument('<key...>', 'Keys to unset')
    .option('-p, --property', 'Unset the key as a cluster property')
    .action(async (arg: string, keys: string[], flags: PropertyFlags) => {
      await changeMember(ctx, localName(arg), (put) => {
        if (!flags.property) {
          for (const k of keys) put.config[k] = '';
          return;
        }
        try {
          unsetProperties(put, CLUSTER_MEMBER_PUT, keys);
        } catch (err) {
          throw new Error((err as Error).message.replace(/^Error unsetting properties: /, 'Error unsetting property: '));
        }
      });
    });
}
