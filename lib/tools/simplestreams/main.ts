/**
 * `incus-simplestreams` entry point: keeps a static simplestreams tree
 * (`streams/v1/index.json`, `streams/v1/images.json`, `images/`) in the
 * current directory (or `--directory`), ready for any static web server.
 * Each subcommand's module is loaded only when that subcommand runs.
 */
import { Command } from 'commander';
import { runProgram } from '../run-program';

/** Options every subcommand sees. */
export interface GlobalOptions {
  directory: string;
}

function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ directory?: string }>();
  return { directory: o.directory ?? process.cwd() };
}

function build(): Command {
  const program = new Command('incus-simplestreams')
    .description('Maintain a simplestreams image server as a static directory')
    .option('-C, --directory <dir>', 'Tree to work on (default: the current directory)')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('add')
    .description('Add an image (a unified tarball, or a metadata tarball and its rootfs/squashfs)')
    .argument('<metadata tarball>')
    .argument('[data file]')
    .option('--alias <alias>', 'Add alias (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--no-default-alias', 'Do not add the default alias')
    .option('--product-name <name>', 'Set the product name')
    .action(async (meta: string, data: string | undefined, opts: { alias: string[]; defaultAlias: boolean; productName?: string }, cmd: Command) => {
      const { runAdd } = await import('./add');
      await runAdd(globals(cmd).directory, meta, data, { aliases: opts.alias, noDefaultAlias: !opts.defaultAlias, productName: opts.productName });
    });

  program
    .command('remove')
    .description('Remove an image')
    .argument('<fingerprint>')
    .option('-v, --verbose', 'Show all information messages')
    .action(async (fp: string, opts: { verbose?: boolean }, cmd: Command) => {
      const { runRemove } = await import('./remove');
      await runRemove(globals(cmd).directory, fp, !!opts.verbose);
    });

  program
    .command('list')
    .description('List all images on the server')
    .option('-f, --format <format>', 'Format (csv|json|table|yaml|compact)', 'table')
    .action(async (opts: { format: string }, cmd: Command) => {
      const { runList } = await import('./list');
      await runList(globals(cmd).directory, opts.format);
    });

  program
    .command('verify')
    .description('Verify the integrity of the server (sizes and SHA256 of every listed file)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { runVerify } = await import('./verify');
      process.exitCode = await runVerify(globals(cmd).directory);
    });

  program
    .command('prune')
    .description('Clean up obsolete files and data')
    .option('-d, --dry-run', 'Preview changes without executing actual operations')
    .option('-r, --retention <n>', 'Number of older versions of the product to preserve', '2')
    .option('-v, --verbose', 'Show all information messages')
    .action(async (opts: { dryRun?: boolean; retention: string; verbose?: boolean }, cmd: Command) => {
      const retention = Number(opts.retention);
      if (!Number.isInteger(retention) || retention < 0) throw new Error(`Invalid retention ${JSON.stringify(opts.retention)}`);
      const { runPrune } = await import('./prune');
      await runPrune(globals(cmd).directory, { dryRun: !!opts.dryRun, retention, verbose: !!opts.verbose || !!opts.dryRun });
    });

  program
    .command('generate-metadata')
    .description('Generate a metadata tarball (asks for os, release, variant, architecture, description)')
    .argument('<path>')
    .action(async (path: string) => {
      const { runGenerateMetadata } = await import('./generate-metadata');
      await runGenerateMetadata(path);
    });

  return program;
}

/** Runs the tool on `argv` (defaults to the process arguments); sets the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  await runProgram(build(), argv);
}
