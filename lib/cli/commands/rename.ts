/** `incus rename OLD NEW`: POST /1.0/instances/OLD {name: NEW}. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { localName } from '../remote';

/** Renames an instance and waits for the operation. */
export async function renameInstance(ctx: CliContext, from: string, to: string): Promise<number> {
  await (await ctx.client().renameInstance(localName(from), to)).wait();
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('rename')
    .description('Rename instances')
    .argument('<instance>', '[<remote>:]<instance>')
    .argument('<new-name>', 'New instance name')
    .action(async (from: string, to: string) => {
      ctx.exitCode = await renameInstance(ctx, from, to);
    });
}
