/** `incus version`: client and server versions. */
import type { Command } from 'commander';
import type { CliContext } from '../context';
import { CLIENT_VERSION } from '../version';

async function version(ctx: CliContext): Promise<number> {
  ctx.out(`Client version: ${CLIENT_VERSION}\n`);
  let server = 'unreachable';
  try {
    server = (await ctx.client().getServer()).environment?.server_version ?? '';
  } catch {
    // Incus prints "unreachable" whatever went wrong.
  }
  ctx.out(`Server version: ${server}\n`);
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Show local and remote versions')
    .argument('[remote]', 'Remote to query (only "local:" exists)')
    .action(async () => {
      ctx.exitCode = await version(ctx);
    });
}
