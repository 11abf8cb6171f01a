/** `incus delete` (aliases `rm`, `remove`). */
import type { Command } from 'commander';
import { StatusCode } from '../../api/response';
import type { CliContext } from '../context';
import { quote } from '../kv';
import { type InstanceTarget, instanceTarget } from '../instance-target';

/** `incus delete` options. */
export interface DeleteFlags {
  force?: boolean;
}

async function deleteOne(target: InstanceTarget, flags: DeleteFlags): Promise<void> {
  const { client, name } = target;
  let inst;
  try {
    inst = await client.getInstance(name);
  } catch (err) {
    throw new Error(`Failed checking instance ${name} exists: ${(err as Error).message}`);
  }
  if (inst.status_code !== 0 && inst.status_code !== StatusCode.Stopped) {
    if (!flags.force) throw new Error(`The instance ${name} is currently running, stop it first or pass --force`);
    try {
      await (await client.updateInstanceState(name, { action: 'stop', timeout: -1, force: true })).wait();
    } catch (err) {
      throw new Error(`Stopping the instance ${name} failed: ${(err as Error).message}`);
    }
    // An ephemeral instance is gone once stopped.
    if (inst.ephemeral) return;
  }
  try {
    await (await client.deleteInstance(name)).wait();
  } catch (err) {
    throw new Error(`Failed deleting instance ${name} in project ${quote(target.project)}: ${(err as Error).message}`);
  }
}

/** Deletes each instance in turn; all failures are reported together. */
export async function deleteInstances(ctx: CliContext, args: string[], flags: DeleteFlags): Promise<number> {
  const errors: string[] = [];
  for (const arg of args) {
    try {
      // Each instance on its own remote: `incus delete l1:c1 l2:c2`.
      await deleteOne(instanceTarget(ctx, arg), flags);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) throw new Error(errors.join('\n'));
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('delete')
    .aliases(['rm', 'remove'])
    .description('Delete instances')
    .argument('<instances...>', '[<remote>:]<instance>')
    .option('-f, --force', 'Force the removal of running instances')
    .action(async (instances: string[], flags: DeleteFlags) => {
      ctx.exitCode = await deleteInstances(ctx, instances, flags);
    });
}
