/**
 * `lxc-to-incus` entry point: imports containers made with the plain LXC
 * tools into the daemon, through the API. Modules beyond commander load
 * only once the flags are checked.
 */
import { Command } from 'commander';
import { runProgram } from '../run-program';

interface Flags {
  containers: string[];
  all?: boolean;
  dryRun?: boolean;
  debug?: boolean;
  delete?: boolean;
  moveRootfs?: boolean;
  storage?: string;
  lxcpath?: string;
}

function defaultLxcPath(): string {
  try {
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    return execFileSync('lxc-config', ['lxc.lxcpath'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || '/var/lib/lxc';
  } catch {
    return '/var/lib/lxc';
  }
}

async function run(f: Flags): Promise<number> {
  if ((f.containers.length === 0 && !f.all) || (f.containers.length > 0 && f.all)) throw new Error('You must either pass container names or --all');
  if (f.delete && f.moveRootfs) throw new Error('--delete and --move-rootfs are mutually exclusive');
  const { IncusClient } = await import('../../client/client');
  const { discoverSocketPath } = await import('../../client/socket-path');
  const { lxcContainers, migrateContainer } = await import('./migrate');
  const lxcpath = f.lxcpath ?? defaultLxcPath();
  const known = lxcContainers(lxcpath);
  for (const n of f.containers) if (!known.includes(n)) process.stdout.write(`Skipping container '${n}': not found in ${lxcpath}\n`);
  const names = f.all ? known : known.filter((n) => f.containers.includes(n));
  const c = new IncusClient({ socketPath: discoverSocketPath(), userAgent: 'lxc-to-incus' });
  let failed = f.containers.filter((n) => !known.includes(n)).length;
  try {
    for (const name of names) {
      try {
        if (!(await migrateContainer(c, name, { lxcpath, dryRun: !!f.dryRun, debug: !!f.debug, delete: !!f.delete, moveRootfs: !!f.moveRootfs, storage: f.storage }))) failed++;
      } catch (err) {
        process.stdout.write(`Skipping container '${name}': ${(err as Error).message}\n`);
        failed++;
      }
    }
  } finally {
    c.close();
  }
  return failed ? 1 : 0;
}

/** Runs the tool on `argv` (defaults to the process arguments); sets the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const program = new Command('lxc-to-incus')
    .description('Import LXC containers (lxc-create/lxc-start) into Incus')
    .option('--containers <names>', 'Container(s) to import (comma separated, repeatable)', (v: string, acc: string[]) => [...acc, ...v.split(',').filter(Boolean)], [] as string[])
    .option('--all', 'Import all containers')
    .option('--dry-run', 'Dry run mode')
    .option('--debug', 'Print debugging output')
    .option('--delete', 'Delete the source container')
    .option('--move-rootfs', 'Remove the source rootfs once imported (keeps the LXC config)')
    .option('--storage <pool>', 'Storage pool to use for the container')
    .option('--lxcpath <path>', 'Alternate LXC path')
    .showHelpAfterError()
    .exitOverride()
    .action(async (f: Flags) => {
      process.exitCode = await run(f);
    });
  await runProgram(program, argv);
}
