/**
 * `incus console [<remote>:]<instance>`: attach the terminal to an
 * instance's console (detach with ctrl+a q), or print its log (--show-log).
 * The terminal goes raw while attached when stdin is one; piped input is
 * passed through as it is.
 */
import type { Command } from 'commander';
import type { RawData } from 'ws';
import type { CliContext } from '../context';
import { DetachFilter } from '../console-escape';
import { localName } from '../remote';

/** `incus console` options. */
export interface ConsoleFlags {
  force?: boolean;
  showLog?: boolean;
  type: string;
}

/** Prints the console log, with the newline Incus adds after it. */
async function showLog(ctx: CliContext, name: string): Promise<number> {
  const { getConsoleLog } = require('../../client/console') as typeof import('../../client/console');
  const log = await getConsoleLog(ctx.client(), name);
  ctx.out(`${log.toString('utf8')}\n`);
  return 0;
}

/** The VGA console through a local SPICE socket (console-vga.ts); the server refuses it for containers. */
async function attachVga(ctx: CliContext, name: string): Promise<number> {
  const { runVgaConsole } = require('../console-vga') as typeof import('../console-vga');
  const { configDir } = require('../remotes/config') as typeof import('../remotes/config');
  await runVgaConsole(ctx.client(), name, configDir(process.env), (text) => ctx.out(text));
  return 0;
}

/** Bridges stdin/stdout to the console until detach or until the server ends the session. */
async function attachText(ctx: CliContext, name: string, flags: ConsoleFlags): Promise<number> {
  const { attachConsole, sendWindowResize } = require('../../client/console') as typeof import('../../client/console');
  const stdin = process.stdin;
  const stdout = process.stdout;
  const sized = stdout.isTTY === true;
  const att = await attachConsole(ctx.client(), name, {
    type: 'console',
    width: sized ? stdout.columns : 0,
    height: sized ? stdout.rows : 0,
    force: flags.force === true,
  });
  const raw = stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  ctx.out('To detach from the console, press: <ctrl>+a q\n\r');

  const filter = new DetachFilter();
  const detach = (): void => {
    // Closing the control socket ends the session on the server, as Incus's client does.
    if (att.control.readyState === att.control.OPEN) att.control.close(1000, 'Detaching from console');
  };
  const onInput = (chunk: Buffer): void => {
    const r = filter.feed(chunk);
    if (r.forward.length > 0 && att.data.readyState === att.data.OPEN) att.data.send(r.forward, { binary: true });
    if (r.detach) detach();
  };
  const onWinch = (): void => {
    if (att.control.readyState === att.control.OPEN) sendWindowResize(att.control, stdout.columns, stdout.rows);
  };
  att.data.on('message', (msg: RawData, isBinary: boolean) => {
    if (isBinary) stdout.write(msg as Buffer);
  });
  stdin.on('data', onInput);
  if (sized) process.on('SIGWINCH', onWinch);
  try {
    await att.operation.wait();
  } finally {
    stdin.off('data', onInput);
    process.off('SIGWINCH', onWinch);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    att.data.close();
    att.control.close();
    ctx.out('\r\n');
  }
  return 0;
}

/** Runs `incus console` for one instance. */
export async function consoleCommand(ctx: CliContext, instance: string, flags: ConsoleFlags): Promise<number> {
  const name = localName(instance);
  if (flags.type !== 'console' && flags.type !== 'vga') throw new Error(`Unknown output type ${JSON.stringify(flags.type)}`);
  if (flags.showLog) {
    if (flags.type !== 'console') throw new Error("The --show-log flag is only supported for by 'console' output type");
    return showLog(ctx, name);
  }
  return flags.type === 'vga' ? attachVga(ctx, name) : attachText(ctx, name, flags);
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('console')
    .description('Attach to instance consoles')
    .argument('<instance>', '[<remote>:]<instance>')
    .option('-f, --force', 'Forces a connection to the console, even if there is already an active session')
    .option('--show-log', "Retrieve the instance's console log")
    .option('-t, --type <type>', "Type of connection to establish: 'console' for serial console, 'vga' for SPICE graphical output", 'console')
    .action(async (instance: string, flags: ConsoleFlags) => {
      ctx.exitCode = await consoleCommand(ctx, instance, flags);
    });
}
