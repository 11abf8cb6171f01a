/**
 * `incus exec [<remote>:]<instance> [flags] [--] <command line>` and
 * `incus shell <instance>` (Incus's built-in alias for `exec <instance> --
 * su -l`). Interactive (one pty) when stdin and stdout are both terminals,
 * unless -T/-t/--mode say otherwise; the terminal goes raw, its size
 * follows SIGWINCH, and the signals Incus forwards (SIGINT, SIGTERM,
 * SIGHUP, ...) go to the remote command over the control socket. The
 * remote exit status becomes ours. Uses the process's own stdio.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { openSync, closeSync, constants as fsc } from 'node:fs';
import { constants as osc } from 'node:os';
import type { InstanceExecPost } from '../../api/instance-exec';
import type { CliContext } from '../context';
import { collect } from '../option-parsers';
import { localName } from '../remote';

/** Options of `incus exec` (and `incus shell`). */
export interface ExecFlags {
  env?: string[];
  mode: string;
  forceInteractive?: boolean;
  forceNoninteractive?: boolean;
  disableStdin?: boolean;
  user?: number;
  group?: number;
  cwd?: string;
}

/** Signals forwarded to the remote command (SIGWINCH is handled apart). */
const FORWARDED: readonly NodeJS.Signals[] = [
  'SIGTERM', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGABRT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGUSR1', 'SIGUSR2', 'SIGCONT',
];

/** The command Incus's `shell` alias runs. */
export const SHELL_COMMAND: readonly string[] = ['su', '-l'];

/** uint32 option values (`--user`, `--group`). */
export function parseUint32(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) > 4294967295) throw new InvalidArgumentError('Not a valid uint32.');
  return Number(value);
}

/** `--env K=V` flags as a map (a flag without `=` sets an empty value, as Incus does). */
export function parseEnvFlags(list: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq < 0) env[item] = '';
    else env[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return env;
}

/**
 * Whether to ask for a pty, as Incus decides: -n never, -t/--mode
 * interactive always, -T/--mode non-interactive never, otherwise when both
 * stdin and stdout are terminals.
 * @throws Error for contradictory flags.
 */
export function interactiveMode(flags: ExecFlags, stdinTTY: boolean, stdoutTTY: boolean): boolean {
  if (flags.forceInteractive && flags.forceNoninteractive) throw new Error("You can't pass -t and -T at the same time");
  if (flags.mode !== 'auto' && (flags.forceInteractive || flags.forceNoninteractive)) {
    throw new Error("You can't pass -t or -T at the same time as --mode");
  }
  if (!['auto', 'interactive', 'non-interactive'].includes(flags.mode)) throw new Error(`Invalid mode ${JSON.stringify(flags.mode)}`);
  if (flags.disableStdin) return false;
  if (flags.mode === 'interactive' || flags.forceInteractive) return true;
  if (flags.mode === 'non-interactive' || flags.forceNoninteractive) return false;
  return stdinTTY && stdoutTTY;
}

/** Whether this process still has a controlling terminal (SIGHUP vs. SIGTERM, as Incus decides). */
function haveControllingTty(): boolean {
  try {
    closeSync(openSync('/dev/tty', fsc.O_RDONLY | fsc.O_NOCTTY));
    return true;
  } catch {
    return false;
  }
}

/** Runs one command in an instance with this process's stdio; resolves to the exit status to use. */
export async function execCommand(ctx: CliContext, instance: string, command: readonly string[], flags: ExecFlags): Promise<number> {
  const name = localName(instance);
  if (command.length === 0) throw new Error('Missing command');
  const stdin = process.stdin;
  const stdout = process.stdout;
  const stdinTTY = stdin.isTTY === true;
  const stdoutTTY = stdout.isTTY === true;
  const interactive = interactiveMode(flags, stdinTTY, stdoutTTY);

  const environment: Record<string, string> = {};
  if (process.env.TERM !== undefined) environment.TERM = process.env.TERM;
  Object.assign(environment, parseEnvFlags(flags.env));
  const post: InstanceExecPost = {
    command: [...command],
    'wait-for-websocket': true,
    interactive,
    environment,
    width: stdoutTTY ? stdout.columns : 0,
    height: stdoutTTY ? stdout.rows : 0,
    user: flags.user ?? 0,
    group: flags.group ?? 0,
    cwd: flags.cwd ?? '',
  };

  const { execInstance, execReturn } = require('../../client/exec') as typeof import('../../client/exec');
  const { ApiError } = require('../../client/errors') as typeof import('../../client/errors');
  const raw = interactive && stdinTTY;
  const listeners: [NodeJS.Signals, () => void][] = [];
  try {
    const result = await execInstance(ctx.client(), name, post, {
      stdin: flags.disableStdin ? null : stdin,
      stdout,
      stderr: process.stderr,
      onControl: (control) => {
        const listen = (sig: NodeJS.Signals, fn: () => void): void => {
          process.on(sig, fn);
          listeners.push([sig, fn]);
        };
        // A resize makes no sense without a pty (and can upset the command).
        if (interactive && stdoutTTY) listen('SIGWINCH', () => control.resize(stdout.columns, stdout.rows));
        for (const sig of FORWARDED) {
          listen(sig, () => {
            const sent: NodeJS.Signals = sig === 'SIGHUP' && !haveControllingTty() ? 'SIGTERM' : sig;
            control.signal(osc.signals[sent]);
          });
        }
        if (raw) stdin.setRawMode(true);
      },
    });
    return result.code;
  } catch (err) {
    const code = err instanceof ApiError ? execReturn(err.operation) : undefined;
    if (code === undefined) throw err;
    ctx.err(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    // -1: the command never ran (the operation failed); exit 1 as Incus's CLI does.
    return code <= 0 ? 1 : code;
  } finally {
    for (const [sig, fn] of listeners) process.off(sig, fn);
    if (raw) stdin.setRawMode(false);
    // Whatever the command did not read must not keep us running.
    stdin.pause();
    stdin.destroy();
  }
}

function addExecOptions(cmd: Command): Command {
  return cmd
    .option('--env <key=value>', 'Environment variable to set (e.g. HOME=/home/foo) (may be passed multiple times)', collect)
    .option('--mode <mode>', 'Override the terminal mode (auto, interactive or non-interactive)', 'auto')
    .option('-t, --force-interactive', 'Force pseudo-terminal allocation')
    .option('-T, --force-noninteractive', 'Disable pseudo-terminal allocation')
    .option('-n, --disable-stdin', 'Disable stdin (reads from /dev/null)')
    .option('--user <uid>', 'User ID to run the command as (default 0)', parseUint32)
    .option('--group <gid>', 'Group ID to run the command as (default 0)', parseUint32)
    .option('--cwd <dir>', 'Directory to run the command in (default /root)');
}

/** Adds `exec` and `shell` to `program`. */
export function register(program: Command, ctx: CliContext): void {
  addExecOptions(
    program
      .command('exec')
      .description('Execute commands in instances')
      .usage('[<remote>:]<instance> [flags] [--] <command line>')
      .argument('<instance>', '[<remote>:]<instance>')
      .argument('[command...]', 'Command line to run'),
  ).action(async (instance: string, command: string[], flags: ExecFlags) => {
    ctx.exitCode = await execCommand(ctx, instance, command, flags);
  });
  addExecOptions(
    program
      .command('shell')
      .description('Open a login shell in an instance (alias for: exec <instance> -- su -l)')
      .argument('<instance>', '[<remote>:]<instance>'),
  ).action(async (instance: string, flags: ExecFlags) => {
    ctx.exitCode = await execCommand(ctx, instance, SHELL_COMMAND, flags);
  });
}
