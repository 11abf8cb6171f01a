/** `incusd [--logfile F] [--debug] [--group G]`: runs the daemon until a signal or shutdown request. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from './daemon';

/** incusd's command line. */
export interface Args {
  logFile: string | null;
  debug: boolean;
  group: string | null;
  /** The first non-empty positional word: a subcommand (only activateifneeded is known). */
  command: string | null;
}

/**
 * Parses incusd's flags as Incus's cobra command does: positional
 * arguments (an empty one too) are ignored (cobra.ArbitraryArgs), everything
 * after "--" is positional, an unknown flag is an error.
 */
export function parseArgs(argv: string[]): Args {
  const a: Args = { logFile: null, debug: false, group: null, command: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') break;
    if (!arg.startsWith('-') || arg === '-') {
      if (arg !== '' && a.command === null) a.command = arg;
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`Missing value for ${flag}`);
      return v;
    };
    switch (flag) {
      case '--logfile':
        a.logFile = value();
        break;
      case '--group':
        a.group = value();
        break;
      case '--debug':
      case '-d':
        a.debug = true;
        break;
      case '--verbose':
      case '-v':
        break;
      case '--help':
      case '-h':
        process.stdout.write('Usage: incusd [--logfile FILE] [--debug] [--group GROUP]\n\nEnvironment: INCUS_DIR (default /var/lib/incus)\n');
        process.exit(0);
        break;
      default:
        throw new Error(arg.startsWith('--') ? `unknown flag: ${flag}` : `unknown shorthand flag: '${arg.charAt(1)}' in ${arg}`);
    }
  }
  return a;
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * `incusd activateifneeded`: says (with --debug) whether the daemon has work
 * at boot and, if so, connects to its socket (which starts a socket-activated
 * daemon), as Incus does; exit status 1 when that connection fails.
 */
async function activateIfNeeded(varDir: string, debug: boolean): Promise<number> {
  const { activationCheck } = require('./db/activation') as typeof import('./db/activation');
  const { globalDbPath } = require('./db/location') as typeof import('./db/location');
  const check = activationCheck(globalDbPath(varDir));
  if (debug) process.stderr.write(`time="${new Date().toISOString()}" level=debug msg="${check.message}"\n`);
  if (!check.activate) return 0;
  const socket = process.env.INCUS_SOCKET || join(varDir, 'unix.socket');
  const ok = await new Promise<boolean>((resolve) => {
    const req = require('node:http').get({ socketPath: socket, path: '/1.0' }, (res: import('node:http').IncomingMessage) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
  if (!ok) process.stderr.write(`Error: The incus daemon doesn't appear to be started (socket path: ${socket})\n`);
  return ok ? 0 : 1;
}

export async function main(argv: string[]): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('Error: This must be run as root\n');
    process.exit(1);
  }
  const varDir = process.env.INCUS_DIR || '/var/lib/incus';
  if (args.command === 'activateifneeded') process.exit(await activateIfNeeded(varDir, args.debug));
  let daemon;
  try {
    daemon = await startDaemon({ varDir, debug: args.debug, logFile: args.logFile, group: args.group, version: packageVersion() });
  } catch (err) {
    process.stderr.write(`Error: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const d = daemon;
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(sig, () => {
      void d.close();
    });
  }
  await d.closed;
  process.exit(0);
}

if (require.main === module) void main(process.argv.slice(2));
