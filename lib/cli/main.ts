/**
 * `incus` entry point. Only the command group named on the command line is
 * loaded and registered (all of them for help or an unknown word), so a
 * plain command pays for commander, its own group and the client, nothing
 * more.
 */
import { spawnSync } from 'node:child_process';
import { Command, CommanderError } from 'commander';
import { type Expansion, expandAlias, userAliases } from './aliases';
import { CliContext, type CliIO, type GlobalFlags } from './context';
import { CLIENT_VERSION } from './version';

/** A command group module: adds its commands to the program. */
export interface CommandGroup {
  register(program: Command, ctx: CliContext): void;
}

interface GroupEntry {
  names: readonly string[];
  load: () => CommandGroup;
}

const GROUPS: readonly GroupEntry[] = [
  { names: ['launch', 'create', 'init'], load: () => require('./commands/create') as CommandGroup },
  { names: ['list', 'ls'], load: () => require('./commands/list') as CommandGroup },
  { names: ['info'], load: () => require('./commands/info') as CommandGroup },
  { names: ['exec', 'shell'], load: () => require('./commands/exec') as CommandGroup },
  { names: ['console'], load: () => require('./commands/console') as CommandGroup },
  {
    names: ['start', 'stop', 'restart', 'pause', 'freeze', 'resume', 'unfreeze'],
    load: () => require('./commands/action') as CommandGroup,
  },
  { names: ['delete', 'rm', 'remove'], load: () => require('./commands/delete') as CommandGroup },
  { names: ['rename'], load: () => require('./commands/rename') as CommandGroup },
  { names: ['rebuild'], load: () => require('./commands/rebuild') as CommandGroup },
  { names: ['copy', 'cp', 'move', 'mv'], load: () => require('./commands/copy') as CommandGroup },
  { names: ['export', 'import'], load: () => require('./commands/backup') as CommandGroup },
  { names: ['snapshot'], load: () => require('./commands/snapshot') as CommandGroup },
  { names: ['image'], load: () => require('./commands/image') as CommandGroup },
  { names: ['remote'], load: () => require('./commands/remote') as CommandGroup },
  { names: ['publish'], load: () => require('./commands/publish') as CommandGroup },
  { names: ['admin'], load: () => require('./commands/admin') as CommandGroup },
  { names: ['query'], load: () => require('./commands/query') as CommandGroup },
  { names: ['file'], load: () => require('./commands/file') as CommandGroup },
  { names: ['profile'], load: () => require('./commands/profile') as CommandGroup },
  { names: ['project'], load: () => require('./commands/project') as CommandGroup },
  { names: ['network'], load: () => require('./commands/network') as CommandGroup },
  { names: ['config'], load: () => require('./commands/config') as CommandGroup },
  { names: ['storage'], load: () => require('./commands/storage') as CommandGroup },
  { names: ['version'], load: () => require('./commands/version') as CommandGroup },
  { names: ['warning'], load: () => require('./commands/warning') as CommandGroup },
  { names: ['cluster'], load: () => require('./commands/cluster') as CommandGroup },
  { names: ['top'], load: () => require('./commands/top') as CommandGroup },
  { names: ['monitor'], load: () => require('./commands/monitor') as CommandGroup },
  { names: ['alias'], load: () => require('./commands/alias') as CommandGroup },
];

/** Global options that take a value (their value is not the command word). */
const GLOBAL_VALUE_OPTIONS = new Set(['--project']);

/** The first argument that is not an option: the command name, if any. */
export function commandWord(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (GLOBAL_VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-') || a === '-') return a;
  }
  return undefined;
}

/** Commander's `error: x` as Incus prints errors: `Error: x`. */
function formatCommanderError(text: string): string {
  return 'Error: ' + text.replace(/^error: /, '');
}

function buildProgram(io: CliIO, argv: readonly string[]): { program: Command; ctx: CliContext } {
  const program = new Command('incus');
  const ctx = new CliContext(io, () => program.opts<GlobalFlags>(), argv);
  program
    .description('Command line client for Incus')
    .option('--project <name>', 'Override the source project')
    .option('-q, --quiet', "Don't show progress information")
    // Accepted as Incus accepts them (its test harness passes them); the client logs nothing more.
    .option('-v, --verbose', 'Show all information messages')
    .option('--debug', 'Show all debug messages')
    .option('--force-local', 'Force using the local unix socket')
    .version(CLIENT_VERSION, '--version', 'Print version number')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out.write(s),
      writeErr: (s) => io.err.write(s),
      outputError: (s, write) => write(formatCommanderError(s)),
    });
  const word = commandWord(argv);
  const wanted = GROUPS.filter((g) => word !== undefined && g.names.includes(word));
  // `incus --version` needs no command at all; help and unknown words need them all.
  const versionOnly = word === undefined && argv.includes('--version');
  if (!versionOnly) for (const g of wanted.length > 0 ? wanted : GROUPS) g.load().register(program, ctx);
  return { program, ctx };
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves to the
 * exit status. Errors are printed as `Error: <message>` on `io.err`.
 */
export async function run(
  argv: readonly string[] = process.argv.slice(2),
  io: CliIO = { out: process.stdout, err: process.stderr, env: process.env },
): Promise<number> {
  // User aliases first, as Incus does; the expansion runs once more without them.
  if (io.env.INCUS_ALIASES !== '1') {
    let expanded: Expansion | null;
    try {
      expanded = expandAlias(userAliases(io.env), argv);
    } catch (err) {
      io.err.write(`Error: ${(err as Error).message}\n`);
      return 1;
    }
    if (expanded) {
      const env = { ...io.env, INCUS_ALIASES: '1' };
      if (expanded.kind === 'incus') return run(expanded.args, { ...io, env });
      const r = spawnSync(expanded.args[0]!, expanded.args.slice(1), { stdio: 'inherit', env });
      if (r.error) {
        io.err.write(`Error: Processing aliases failed: ${r.error.message}\n`);
        return 1;
      }
      return r.status ?? 1;
    }
  }
  const { program, ctx } = buildProgram(io, argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    io.err.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    ctx.close();
  }
}

/** For bin/incus: run and set the process exit status (without cutting output short). */
export function main(): void {
  // `incus list | head`: a closed pipe ends the run quietly, as SIGPIPE ends Incus.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  run().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
