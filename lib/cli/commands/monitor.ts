/**
 * `incus monitor [<remote>:]`: prints the server's events until interrupted,
 * as yaml documents (default), json lines or logrus-style log lines
 * (`--pretty`), keeping only the `--type`s asked for and, in the pretty
 * format, messages at `--loglevel` or more severe. As in Incus, the type and
 * level filters are applied here, not by the server.
 */
import type { Command } from 'commander';
import type { Event } from '../../api/event';
import type { CliContext } from '../context';
import { curly, tooManyArguments } from '../config-args';
import { collect } from '../option-parsers';
import { splitRemote } from '../remotes/connect';

const FORMATS = ['json', 'pretty', 'yaml'];

/** `incus monitor` options. */
export interface MonitorFlags {
  type?: string[];
  pretty?: boolean;
  loglevel?: string;
  allProjects?: boolean;
  format: string;
}

/** Checks the optional `<remote>:` argument as Incus's usage parser does. */
function checkRemoteArg(ctx: CliContext, arg: string | undefined): void {
  if (arg === undefined) return;
  const { name } = splitRemote(ctx, arg);
  if (name === '') return;
  if (!arg.includes(':')) throw tooManyArguments([arg]);
  throw new Error(`cannot parse this argument; unexpected ${curly(name)} in ${curly(arg)}`);
}

/** Builds the per-event printer for the chosen format; null output means "skip". */
async function printer(ctx: CliContext, format: string, loglevel: string | undefined): Promise<(ev: Event) => string | null> {
  const { renderEventJson, renderEventYaml, eventLogRecord } = require('../format/event') as typeof import('../format/event');
  if (format === 'json') return renderEventJson;
  if (format === 'yaml') return renderEventYaml;

  const { levelPasses, parseLogLevel, renderLogText } = require('../format/log-text') as typeof import('../format/log-text');
  const min = loglevel ? parseLogLevel(loglevel) : 'debug';
  const clustered = (await ctx.client().getServer()).environment?.server_clustered === true;
  const colored = (ctx.io.out as { isTTY?: boolean }).isTTY === true;
  return (ev) => {
    const rec = eventLogRecord(ev);
    const level = parseLogLevel(rec.level === 'dbug' ? 'debug' : rec.level);
    if (!levelPasses(level, min)) return null;
    const message = ev.type === 'logging' && clustered ? `[${ev.location}] ${rec.message}` : rec.message;
    return renderLogText({ time: rec.time, level, message, fields: rec.context }, colored);
  };
}

/** Streams events until SIGINT (exit 0) or until the server ends the stream (an error). */
export async function monitor(ctx: CliContext, remoteArg: string | undefined, flags: MonitorFlags): Promise<number> {
  checkRemoteArg(ctx, remoteArg);
  if (!FORMATS.includes(flags.format)) throw new Error(`Invalid format: ${flags.format}`);
  const format = flags.pretty ? 'pretty' : flags.format;
  if (format !== 'pretty' && flags.loglevel) throw new Error('Log level filtering can only be used with pretty formatting');

  const stream = await ctx.client().events(undefined, { allProjects: flags.allProjects === true });
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    stream.close();
  };
  process.once('SIGINT', onSigint);
  try {
    const print = await printer(ctx, format, flags.loglevel);
    const types = flags.type && flags.type.length > 0 ? flags.type : null;
    for await (const ev of stream) {
      if (types && !types.includes(ev.type)) continue;
      const text = print(ev);
      if (text !== null) ctx.out(text);
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
    stream.close();
  }
  if (!interrupted) throw new Error('The server closed the event stream');
  return 0;
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    // Hidden from the command list, as in Incus.
    .command('monitor', { hidden: true })
    .description('Monitor a local or remote server')
    .argument('[remote]', '[<remote>:]')
    .option('--pretty', 'Pretty rendering (short for --format=pretty)')
    .option('--all-projects', 'Show events from all projects')
    .option('-t, --type <type>', 'Event type to listen for (may be passed multiple times)', collect)
    .option('--loglevel <level>', 'Minimum level for log messages (only available when using pretty format)')
    .option('-f, --format <format>', 'Format (json|pretty|yaml)', 'yaml')
    .action(async (remote: string | undefined, flags: MonitorFlags) => {
      ctx.exitCode = await monitor(ctx, remote, flags);
    });
}
