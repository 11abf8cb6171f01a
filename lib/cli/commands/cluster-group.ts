/**
 * `incus cluster group create|delete|edit|list|rename|show|assign|add|remove`
 * (Incus's cluster_group.go): groups by their own routes, a member's groups
 * through its PUT (assign replaces them, add and remove change one).
 */
import type { Command } from 'commander';
import type { ClusterGroup, ClusterGroupPut } from '../../api/cluster-group';
import type { ClusterMember } from '../../api/cluster';
import type { CliContext } from '../context';
import { parseColumnLetters } from '../column-letters';
import { runEdit } from '../edit-loop';
import { orderKeys, struct, type Shape } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { processTerminal } from '../terminal';
import { sameValue } from '../writable';
import { CLUSTER_GROUP_PUT, decodeYaml } from '../yaml-decode';

type GroupsApi = typeof import('../../client/cluster-groups');
const api = (): GroupsApi => require('../../client/cluster-groups') as GroupsApi;
type ClusterApi = typeof import('../../client/cluster');
const members = (): ClusterApi => require('../../client/cluster') as ClusterApi;

const EDIT_HELP = "### This is a YAML representation of the cluster group.\n### Any line starting with a '# will be ignored.";

/** api.ClusterGroup in Go's field order (ClusterGroupPut inline first). */
const groupShape: Shape = struct([
  ['config', null],
  ['description', null],
  ['members', null],
  ['name', null],
  ['used_by', null],
]);

const COLUMNS: Record<string, [string, (g: ClusterGroup) => string]> = {
  n: ['NAME', (g) => g.name],
  d: ['DESCRIPTION', (g) => g.description],
  m: ['MEMBERS', (g) => String((g.members ?? []).length)],
};

const writable = (g: ClusterGroup): ClusterGroupPut => ({ config: { ...(g.config ?? {}) }, description: g.description, members: [...(g.members ?? [])] });

/** Reads the member, changes its groups and PUTs it back with the ETag read (Incus's assign/add/remove). */
async function changeGroups(ctx: CliContext, name: string, change: (m: ClusterMember) => string[]): Promise<void> {
  const client = ctx.client();
  const { value, etag } = await members().getClusterMemberWithEtag(client, name);
  const groups = change(value);
  await members().updateClusterMember(client, name, { roles: value.roles ?? [], failure_domain: value.failure_domain, description: value.description, config: value.config ?? {}, groups }, { etag });
}

export function registerClusterGroupCommands(cluster: Command, ctx: CliContext): void {
  const term = processTerminal(ctx.io.env);
  const group = cluster.command('group').description('Manage cluster groups');

  group
    .command('create')
    .description('Create a cluster group')
    .argument('<group>', '[<remote>:]<group>')
    .option('--description <description>', 'Cluster group description')
    .action(async (arg: string, flags: { description?: string }) => {
      const name = localName(arg);
      let put: ClusterGroupPut = { config: {}, description: '', members: [] };
      if (!term.stdinIsTerminal()) {
        const text = term.readStdin();
        if (text.trim() !== '') put = { ...put, ...decodeYaml<ClusterGroupPut>(text, CLUSTER_GROUP_PUT) };
      }
      if (flags.description) put.description = flags.description;
      await api().createClusterGroup(ctx.client(), { name, ...put });
      ctx.say(`Cluster group ${name} created\n`);
    });

  group
    .command('delete')
    .alias('rm')
    .description('Delete cluster groups')
    .argument('<group...>', '[<remote>:]<group>')
    .action(async (args: string[]) => {
      for (const arg of args) {
        const name = localName(arg);
        await api().deleteClusterGroup(ctx.client(), name);
        ctx.say(`Cluster group ${name} deleted\n`);
      }
    });

  group
    .command('edit')
    .description('Edit a cluster group')
    .argument('<group>', '[<remote>:]<group>')
    .action(async (arg: string) => {
      const name = localName(arg);
      const client = ctx.client();
      const io = { out: (s: string) => ctx.out(s), err: (s: string) => ctx.err(s) };
      const decode = (text: string): ClusterGroupPut => decodeYaml<ClusterGroupPut>(text, CLUSTER_GROUP_PUT);
      const session = async () => {
        const { value, etag } = await api().getClusterGroup(client, name);
        const current = writable(value);
        return {
          text: `${EDIT_HELP}\n\n${renderYaml(orderKeys(current, groupShape))}`,
          decode,
          unchanged: (put: ClusterGroupPut) => (['config', 'description', 'members'] as const).every((f) => sameValue(put[f], current[f])),
          save: (put: ClusterGroupPut) => api().updateClusterGroup(client, name, put, { etag }),
        };
      };
      await runEdit(io, term, session, (text) => api().updateClusterGroup(client, name, decode(text)));
    });

  group
    .command('list')
    .alias('ls')
    .description('List all the cluster groups')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', 'ndm')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .action(async (_remote: string | undefined, flags: { columns: string; format: string }) => {
      const client = ctx.client();
      if (!(await members().getCluster(client)).value.enabled) throw new Error("Server isn't part of a cluster");
      const spec = parseFormat(flags.format);
      const columns = parseColumnLetters(flags.columns, COLUMNS);
      const groups = await api().getClusterGroups(client);
      const rows = sortRowsNaturally(groups.map((g) => columns.map(([, data]) => data(g))));
      ctx.out(renderList(spec, columns.map(([h]) => h), rows, groups));
    });

  group
    .command('rename')
    .alias('mv')
    .description('Rename a cluster group')
    .argument('<group>', '[<remote>:]<group>')
    .argument('<new-name>', 'New group name')
    .action(async (arg: string, newName: string) => {
      const name = localName(arg);
      await api().renameClusterGroup(ctx.client(), name, newName);
      ctx.say(`Cluster group ${name} renamed to ${newName}\n`);
    });

  group
    .command('show')
    .description('Show cluster group configurations')
    .argument('<group>', '[<remote>:]<group>')
    .action(async (arg: string) => {
      const { value } = await api().getClusterGroup(ctx.client(), localName(arg));
      ctx.out(renderYaml(orderKeys(value, groupShape)));
    });

  group
    .command('assign')
    .description('Assign sets of groups to cluster members')
    .argument('<member>', '[<remote>:]<member>')
    .argument('<groups>', 'Comma-separated group names')
    .action(async (arg: string, list: string) => {
      const name = localName(arg);
      const groups = list.split(',');
      await changeGroups(ctx, name, () => groups);
      // Go's %v of a string slice.
      ctx.say(`Cluster member ${name} added to cluster groups [${groups.join(' ')}]\n`);
    });

  group
    .command('add')
    .description('Add member to group')
    .argument('<member>', '[<remote>:]<member>')
    .argument('<group>', 'Group name')
    .action(async (arg: string, groupName: string) => {
      const name = localName(arg);
      await changeGroups(ctx, name, (m) => {
        if ((m.groups ?? []).includes(groupName)) throw new Error(`Cluster member ${name} is already in group ${groupName}`);
        return [...(m.groups ?? []), groupName];
      });
      ctx.say(`Cluster member ${name} added to group ${groupName}\n`);
    });

  group
    .command('remove')
    .description('Remove member from group')
    .argument('<member>', '[<remote>:]<member>')
    .argument('<group>', 'Group name')
    .action(async (arg: string, groupName: string) => {
      const name = localName(arg);
      await changeGroups(ctx, name, (m) => {
        if (!(m.groups ?? []).includes(groupName)) throw new Error(`Cluster group ${groupName} isn't currently applied to ${name}`);
        return (m.groups ?? []).filter((g) => g !== groupName);
      });
      ctx.say(`Cluster member ${name} removed from group ${groupName}\n`);
    });
}
