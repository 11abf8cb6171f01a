/**
 * `incus cluster evacuate|restore <member>` (Incus's cmdClusterEvacuateAction):
 * asks for confirmation unless --force, then waits on the operation, showing
 * its evacuation_progress; `incus cluster info <member>`: the member's state.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { ProgressLine, waitShowingProgress } from '../progress';
import { renderYaml } from '../format/yaml';
import { readLine } from '../read-line';
import { localName } from '../remote';

type ClusterApi = typeof import('../../client/cluster');
const api = (): ClusterApi => require('../../client/cluster') as ClusterApi;

async function run(ctx: CliContext, action: 'evacuate' | 'restore', arg: string, flags: { force?: boolean; action?: string }): Promise<void> {
  const name = localName(arg);
  if (!flags.force) {
    ctx.io.out.write(`Are you sure you want to ${action} cluster member "${name}"? (yes/no) [default=no]: `);
    const answer = (await readLine()).toLowerCase();
    if (answer !== 'yes' && answer !== 'y') return;
  }
  let op;
  try {
    op = await api().updateClusterMemberState(ctx.client(), name, action, flags.action ?? '');
  } catch (err) {
    throw new Error(`Failed to update cluster member state: ${(err as Error).message}`);
  }
  const line = new ProgressLine(ctx.io.out, action === 'restore' ? 'Restoring cluster member: %s' : 'Evacuating cluster member: %s', ctx.globals.quiet);
  await waitShowingProgress(op, line).finally(() => line.done());
}

export function registerEvacuateCommands(cluster: Command, ctx: CliContext): void {
  cluster
    .command('info')
    .description('Show useful information about a cluster member')
    .argument('<member>', '[<remote>:]<member>')
    .action(async (arg: string) => {
      ctx.out(renderYaml(await api().getClusterMemberState(ctx.client(), localName(arg))));
    });
  cluster
    .command('evacuate')
    .alias('evac')
    .description('Evacuate cluster member')
    .argument('<member>', '[<remote>:]<member>')
    .option('--action <action>', 'Force a particular evacuation action')
    .option('-f, --force', 'Force evacuation without user confirmation')
    .action(async (arg: string, flags: { force?: boolean; action?: string }) => run(ctx, 'evacuate', arg, flags));
  cluster
    .command('restore')
    .description('Restore cluster member')
    .argument('<member>', '[<remote>:]<member>')
    .option('-f, --force', 'Force restoration without user confirmation')
    .action(async (arg: string, flags: { force?: boolean }) => run(ctx, 'restore', arg, flags));
}
