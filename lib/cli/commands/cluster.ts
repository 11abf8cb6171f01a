/**
 * `incus cluster enable|list|show|add|list-tokens|revoke-token` (rename, edit, get, set, unset in cluster-member.ts), as Incus prints them: `enable` checks
 * that the server is on the network and not yet clustered, then bootstraps;
 * `list` columns `nurafdsm` (roles one a line, comma-joined in CSV), sorted
 * rows; `show` the member as YAML in Go's field order.
 */
import type { Command } from 'commander';
import { type ClusterMember, type ClusterMemberJoinToken, encodeJoinToken, joinTokenOf } from '../../api/cluster';
import type { CliContext } from '../context';
import { parseColumnLetters } from '../column-letters';
import { formatDate, isZeroTime } from '../format/date';
import { orderKeys, struct, type Shape } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';
import { registerMemberCommands } from './cluster-member';
import { registerEvacuateCommands } from './cluster-evacuate';
import { registerClusterGroupCommands } from './cluster-group';

type ClusterApi = typeof import('../../client/cluster');
const api = (): ClusterApi => require('../../client/cluster') as ClusterApi;

export const DEFAULT_CLUSTER_COLUMNS = 'nurafdsm';

type MemberColumn = [name: string, data: (m: ClusterMember, csv: boolean) => string];

const COLUMNS: Record<string, MemberColumn> = {
  n: ['NAME', (m) => m.server_name],
  u: ['URL', (m) => m.url],
  r: ['ROLES', (m, csv) => m.roles.join(csv ? ',' : '\n')],
  a: ['ARCHITECTURE', (m) => m.architecture],
  f: ['FAILURE DOMAIN', (m) => m.failure_domain],
  d: ['DESCRIPTION', (m) => m.description],
  s: ['STATUS', (m) => m.status.toUpperCase()],
  m: ['MESSAGE', (m) => m.message],
};

/** api.ClusterMember in Go's field order (ClusterMemberPut inline first). */
const memberShape: Shape = struct([
  ['roles', null],
  ['failure_domain', null],
  ['description', null],
  ['config', null],
  ['groups', null],
  ['server_name', null],
  ['url', null],
  ['database', null],
  ['status', null],
  ['message', null],
  ['architecture', null],
]);

type TokenColumn = [name: string, data: (t: ClusterMemberJoinToken) => string];

const TOKEN_COLUMNS: Record<string, TokenColumn> = {
  n: ['NAME', (t) => t.server_name],
  t: ['TOKEN', (t) => encodeJoinToken(t)],
  E: ['EXPIRES AT', (t) => (isZeroTime(t.expires_at) ? ' ' : formatDate(t.expires_at))],
};

export function clusterListText(members: readonly ClusterMember[], flags: { columns: string; format: string }): string {
  const spec = parseFormat(flags.format);
  const columns = parseColumnLetters(flags.columns, COLUMNS);
  const rows = sortRowsNaturally(members.map((m) => columns.map(([, data]) => data(m, spec.format === 'csv'))));
  return renderList(spec, columns.map(([name]) => name), rows, members);
}

export function register(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('Manage cluster members');
  registerMemberCommands(cluster, ctx);
  registerEvacuateCommands(cluster, ctx);
  registerClusterGroupCommands(cluster, ctx);

  cluster
    .command('enable')
    .description('Enable clustering on a single non-clustered server')
    .argument('<args...>', '[<remote>:] <name>')
    .action(async (args: string[]) => {
      const name = args[args.length - 1]!;
      const client = ctx.client();
      const server = await client.getServer().catch((err: Error) => {
        throw new Error(`Failed to retrieve current server configuration: ${err.message}`);
      });
      if (!server.config?.['core.https_address'] && !server.config?.['cluster.https_address']) throw new Error('This server is not available on the network');
      const { value: current, etag } = await api()
        .getCluster(client)
        .catch((err: Error) => {
          throw new Error(`Failed to retrieve current cluster config: ${err.message}`);
        });
      if (current.enabled) throw new Error('This server is already clustered');
      try {
        const op = await api().updateCluster(client, { server_name: name, enabled: true }, { etag });
        await op.wait();
      } catch (err) {
        throw new Error(`Failed to configure cluster: ${(err as Error).message}`);
      }
      ctx.out('Clustering enabled\n');
    });

  cluster
    .command('list')
    .alias('ls')
    .description('List all the cluster members')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', DEFAULT_CLUSTER_COLUMNS)
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .action(async (_remote: string | undefined, flags: { columns: string; format: string }) => {
      const client = ctx.client();
      if (!(await api().getCluster(client)).value.enabled) throw new Error("Server isn't part of a cluster");
      ctx.out(clusterListText(await api().getClusterMembers(client), flags));
    });

  cluster
    .command('show')
    .description('Show details of a cluster member')
    .argument('<member>', '[<remote>:]<member>')
    .action(async (arg: string) => {
      const m = await api().getClusterMember(ctx.client(), localName(arg));
      ctx.out(renderYaml(orderKeys(m, memberShape)));
    });

  cluster
    .command('add')
    .description('Request a join token for adding a cluster member')
    .argument('<name>', '[<remote>:]<name>')
    .action(async (arg: string) => {
      const name = localName(arg);
      const op = await api().createClusterMember(ctx.client(), name);
      const token = joinTokenOf(op.data.metadata);
      if (!token) throw new Error('Failed converting token operation to join token: missing metadata');
      ctx.say(`Member ${name} join token:\n`);
      ctx.out(`${encodeJoinToken(token)}\n`);
    });

  cluster
    .command('list-tokens')
    .description('List all active cluster member join tokens')
    .argument('[remote]', '[<remote>:]')
    .option('-c, --columns <columns>', 'Columns', 'ntE')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact|markdown)', 'table')
    .action(async (_remote: string | undefined, flags: { columns: string; format: string }) => {
      const client = ctx.client();
      if (!(await api().getCluster(client)).value.enabled) throw new Error("Server isn't part of a cluster");
      const spec = parseFormat(flags.format);
      const columns = parseColumnLetters(flags.columns, TOKEN_COLUMNS);
      const tokens = (await api().getClusterJoinTokens(client)).map((t) => t.token);
      const rows = sortRowsNaturally(tokens.map((t) => columns.map(([, data]) => data(t))));
      ctx.out(renderList(spec, columns.map(([h]) => h), rows, tokens));
    });

  cluster
    .command('revoke-token')
    .description('Revoke cluster member join token')
    .argument('<name>', '[<remote>:]<name>')
    .action(async (arg: string) => {
      const name = localName(arg);
      const client = ctx.client();
      if (!(await api().getCluster(client)).value.enabled) throw new Error("Server isn't part of a cluster");
      for (const { op, token } of await api().getClusterJoinTokens(client)) {
        if (token.server_name !== name) continue;
        const { deleteOperation } = require('../../client/certificates') as typeof import('../../client/certificates');
        await deleteOperation(client, op.id);
        // Incus's formatRemote: the remote shown only when it is not the default one.
        const { cliConfig } = require('../remotes/connect') as typeof import('../remotes/connect');
        const remote = ctx.targetRemote();
        ctx.say(`Cluster join token for ${remote === cliConfig(ctx).defaultRemote ? '' : `${remote}:`}${name} deleted\n`);
        return;
      }
      throw new Error(`No cluster join token for member ${name} on remote: ${ctx.targetRemote()}`);
    });
}
