/**
 * `incus-benchmark` entry point: times creating, starting, stopping and
 * deleting containers on the local daemon, prints a summary per action and
 * appends one JMeter-style CSV row per container to `--report-file`.
 * Only commander loads before a subcommand runs.
 */
import { Command, InvalidArgumentError } from 'commander';
import { runProgram } from '../run-program';

interface GlobalOpts {
  parallel: number;
  project: string;
  reportFile?: string;
  reportLabel?: string;
}

type Action = 'init' | 'launch' | 'start' | 'stop' | 'delete';

interface LaunchFlags {
  count: number;
  privileged?: boolean;
  freeze?: boolean;
}

const DEFAULT_IMAGE = 'images:debian/12';

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`invalid integer ${JSON.stringify(v)}`);
  return n;
}

/** Runs one action end to end; resolves with the exit code. */
async function run(action: Action, g: GlobalOpts, image: string | undefined, flags: LaunchFlags): Promise<number> {
  const { IncusClient } = await import('../../client/client');
  const { discoverSocketPath } = await import('../../client/socket-path');
  const { printServerInfo } = await import('./server-info');
  const report = await import('./report');
  const actions = await import('./actions');
  const { summarize, summaryText } = await import('./summary');

  const c = new IncusClient({ socketPath: discoverSocketPath(), project: g.project, userAgent: 'incus-benchmark' });
  try {
    await printServerInfo(c);
    const existing = g.reportFile ? report.loadReport(g.reportFile) : [];
    let result;
    if (action === 'init' || action === 'launch') {
      if (flags.count < 1) throw new Error('--count must be at least 1');
      result = await actions.launchContainers(c, {
        count: flags.count,
        parallel: g.parallel,
        image: image ?? DEFAULT_IMAGE,
        privileged: !!flags.privileged,
        start: action === 'launch',
        freeze: action === 'launch' && !!flags.freeze,
      });
    } else {
      const list = await actions.benchmarkContainers(c);
      const fn = { start: actions.startContainers, stop: actions.stopContainers, delete: actions.deleteContainers }[action];
      result = await fn(c, list, g.parallel);
    }
    const label = g.reportLabel || action;
    process.stdout.write(`\n${summaryText(summarize(label, result.samples, result.totalMs))}`);
    if (g.reportFile) {
      report.writeReport(g.reportFile, existing, result.samples.map((s) => report.sampleRow(s, label)));
      const { logf } = await import('./log');
      logf(`Written report file ${g.reportFile}`);
    }
    return result.samples.every((s) => s.ok) ? 0 : 1;
  } finally {
    c.close();
  }
}

function build(): Command {
  const program = new Command('incus-benchmark')
    .description('Benchmark performance of Incus: time creating, starting, stopping and deleting containers on the local daemon')
    .option('-P, --parallel <n>', 'Number of threads to use', int, -1)
    .option('--report-file <file>', 'Path to the CSV report file')
    .option('--report-label <label>', 'Label for the new entry in the report [default=ACTION]')
    .option('--project <project>', 'Project to use', 'default')
    .version('0.1.0', '--version', 'Print version number')
    .showHelpAfterError()
    .exitOverride();

  const act = (action: Action) => async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const image = typeof args[0] === 'string' ? args[0] : undefined;
    process.exitCode = await run(action, cmd.optsWithGlobals<GlobalOpts>(), image, cmd.opts<LaunchFlags>());
  };
  const initLike = (name: 'init' | 'launch', summary: string) =>
    program
      .command(name)
      .description(summary)
      .argument('[[<remote>:]<image>]', `Image (default: ${DEFAULT_IMAGE})`)
      .option('-C, --count <n>', 'Number of containers to create', int, 1)
      .option('--privileged', 'Use privileged containers');
  initLike('init', 'Create containers').action(act('init'));
  initLike('launch', 'Create and start containers').option('-F, --freeze', 'Freeze the container right after start').action(act('launch'));
  program.command('start').description('Start containers').action(act('start'));
  program.command('stop').description('Stop containers').action(act('stop'));
  program.command('delete').description('Delete containers').action(act('delete'));
  return program;
}

/** Runs the tool on `argv` (defaults to the process arguments); sets the exit code. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  await runProgram(build(), argv);
}
