/** `incus start|stop|restart|pause|resume`: instance state changes. */
import type { Command } from 'commander';
import type { InstanceStatePut, StateAction } from '../../api/instance-state';
import { StatusCode } from '../../api/response';
import type { CliContext } from '../context';
import { withShowLogHint } from '../hints';
import { parseIntOption } from '../option-parsers';
import { type InstanceTarget, instanceTarget } from '../instance-target';
import { localName } from '../remote';

/** Command names of the state changes. */
export type ActionName = 'start' | 'stop' | 'restart' | 'pause' | 'resume';

/** Options of the state-change commands. */
export interface ActionFlags {
  all?: boolean;
  force?: boolean;
  timeout?: number;
  stateful?: boolean;
  stateless?: boolean;
}

/** The state action the API knows for a command name. */
export function apiAction(action: ActionName): StateAction {
  if (action === 'pause') return 'freeze';
  if (action === 'resume') return 'unfreeze';
  return action;
}

async function doAction(action: ActionName, target: InstanceTarget, flags: ActionFlags): Promise<void> {
  const { client, name } = target;
  let apiName = apiAction(action);
  let stateful = action === 'stop' && (flags.stateful ?? false);
  if (action === 'start') {
    const current = await client.getInstance(name);
    // "start" on a frozen instance means "unfreeze".
    if (current.status_code === StatusCode.Frozen) apiName = 'unfreeze';
    if (apiName === 'start' && current.stateful && !flags.stateless) stateful = true;
  }
  const req: InstanceStatePut = {
    action: apiName,
    timeout: flags.timeout ?? -1,
    force: flags.force ?? false,
    stateful,
  };
  const op = await client.updateInstanceState(name, req);
  try {
    await op.wait();
  } catch (err) {
    throw withShowLogHint(err, name, target.project);
  }
}

/** Names `--all` acts on: every instance, minus those already in the target state. */
async function allInstances(ctx: CliContext, action: ActionName): Promise<string[]> {
  const list = await ctx.client().getInstances(1);
  return list
    .filter((i) => !(action === 'start' && i.status_code === StatusCode.Running))
    .filter((i) => !(action === 'stop' && i.status_code === StatusCode.Stopped))
    .map((i) => i.name);
}

/** Runs `action` on every named instance in parallel, reporting like Incus. */
export async function runAction(ctx: CliContext, action: ActionName, args: string[], flags: ActionFlags): Promise<number> {
  let targets: InstanceTarget[];
  if (flags.all) {
    if (args.some((a) => !a.endsWith(':'))) throw new Error('Both --all and instance name given');
    args.forEach(localName);
    const project = ctx.projectName;
    targets = (await allInstances(ctx, action)).map((name) => ({ remote: ctx.targetRemote(), name, client: ctx.client(), project }));
  } else {
    if (args.length === 0) throw new Error('not enough arguments; expected a value for "[<remote>:]<instance>" or "--all"');
    // Each instance on its own remote: `incus start l1:c1 l2:c2`.
    targets = args.map((a) => instanceTarget(ctx, a));
  }
  const names = targets.map((t) => t.name);
  const results = await Promise.all(
    targets.map((t) =>
      doAction(action, t, flags).then(
        () => null,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      ),
    ),
  );
  if (names.length === 1 && results[0]) throw results[0];
  let failed = false;
  results.forEach((err, i) => {
    if (!err) return;
    failed = true;
    for (const line of `error: ${err.message}`.split('\n')) ctx.err(`${names[i]}: ${line}\n`);
  });
  if (failed) {
    ctx.err('\n');
    throw new Error(`Some instances failed to ${action}`);
  }
  return 0;
}

const DESCRIPTIONS: Record<ActionName, string> = {
  start: 'Start instances',
  stop: 'Stop instances',
  restart: 'Restart instances',
  pause: 'Pause instances',
  resume: 'Resume instances',
};

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  for (const action of ['start', 'stop', 'restart', 'pause', 'resume'] as const) {
    const cmd = program
      .command(action)
      .description(DESCRIPTIONS[action])
      .argument('[instances...]', '[<remote>:]<instance>')
      .option('-a, --all', 'Run against all instances');
    if (action === 'pause') cmd.alias('freeze');
    if (action === 'resume') cmd.alias('unfreeze');
    if (action === 'stop') cmd.option('--stateful', 'Store the instance state');
    if (action === 'start') cmd.option('--stateless', 'Ignore the instance state');
    if (action === 'stop' || action === 'restart') {
      cmd
        .option('-f, --force', 'Force the instance to stop')
        .option('--timeout <seconds>', 'Time to wait for the instance to shutdown cleanly', parseIntOption, -1);
    }
    cmd.action(async (instances: string[], flags: ActionFlags) => {
      ctx.exitCode = await runAction(ctx, action, instances, flags);
    });
  }
}
