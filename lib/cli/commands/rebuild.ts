/**
 * `incus rebuild [<remote>:]<image> [<remote>:]<instance>` and
 * `incus rebuild --empty [<remote>:]<instance>`: the instance's root disk
 * wiped and made again from the image (or empty). With --force a running
 * instance is stopped first and started again after, as Incus's CLI does.
 */
import type { Command } from 'commander';
import type { InstanceSource } from '../../api/instance';
import type { CliContext } from '../context';
import { resolveImage } from '../image-ref';
import { parseImageArg, remoteImageSource } from '../launch-source';
import { ProgressLine, waitShowingProgress } from '../progress';
import { localName } from '../remote';

interface RebuildFlags {
  empty?: boolean;
  force?: boolean;
}

async function rebuild(ctx: CliContext, args: string[], flags: RebuildFlags): Promise<void> {
  const [imageArg, instanceArg] = flags.empty ? [undefined, args[0]] : [args[0], args[1]];
  if (instanceArg === undefined || args.length > (flags.empty ? 1 : 2)) {
    throw new Error(flags.empty ? 'Invalid number of arguments: expected [<remote>:]<instance> with --empty' : 'Invalid number of arguments: expected [<remote>:]<image> [<remote>:]<instance>');
  }
  const name = localName(instanceArg);
  const client = ctx.client();
  const current = await client.getInstance(name);
  const restart = flags.force === true && current.status === 'Running';
  if (restart) await (await client.updateInstanceState(name, { action: 'stop', force: true, timeout: -1 })).wait();

  let source: InstanceSource = { type: 'none' };
  if (imageArg !== undefined) {
    const ref = parseImageArg(ctx, imageArg);
    const vm = current.type === 'virtual-machine';
    if (!ref.local) {
      source = await remoteImageSource(ctx, ref.remote, ref.name, vm);
    } else {
      const { image } = await resolveImage(client, ref.name);
      if (vm && image.type !== 'virtual-machine') throw new Error('Asked for a VM but image is of type container');
      source = { type: 'image', fingerprint: image.fingerprint };
    }
  }
  const line = new ProgressLine(ctx.io.out, 'Retrieving image: %s', ctx.globals.quiet);
  await waitShowingProgress(await client.rebuildInstance(name, { source }), line).finally(() => line.done());

  if (restart) await (await client.updateInstanceState(name, { action: 'start', timeout: -1 })).wait();
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('rebuild')
    .description('Rebuild instances')
    .argument('<args...>', '[<remote>:]<image> [<remote>:]<instance> | --empty [<remote>:]<instance>')
    .option('--empty', 'Rebuild as an empty instance')
    .option('-f, --force', 'If an instance is running, stop it and then rebuild it')
    .action(async (args: string[], flags: RebuildFlags) => {
      await rebuild(ctx, args, flags);
    });
}
