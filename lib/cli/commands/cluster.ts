/**
 * `incus cluster enable|list|show`, as Incus prints them: `enable` checks
 * that the server is on the network and not yet clustered, then bootstraps;
 * `list` columns `nurafdsm` (roles one a line, comma-joined in CSV), sorted
 * rows; `show` the member as YAML in Go's field order.
 */
import type { Command } from 'commander';
import type { ClusterMember } from '../../api/cluster';
import type { CliContext } from '../context';
import { parseColumnLetters } from '../column-letters';
import { orderKeys, struct, type Shape } from '../format/go-order';
import { parseFormat, renderList } from '../format/render';
import { sortRowsNaturally } from '../format/sort';
import { renderYaml } from '../format/yaml';
import { localName } from '../remote';

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

export function clusterListText(members: readonly ClusterMember[], flags: { columns: string; format: string }): string {
  const spec = parseFormat(flags.format);
  const columns = parseColumnLetters(flags.columns, COLUMNS);
  const rows = sortRowsNaturally(members.map((m) => columns.map(([, data]) => data(m, spec.format === 'csv'))));
  return renderList(spec, columns.map(([name]) => name), rows, members);
}

export function register(program: Command, ctx: CliContext): void {
  const cluster = program.command('cluster').description('Manage cluster members');

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
}
