/**
 * rsync over a migration channel, as Incus runs it: the sender runs
 * `rsync -ar ... PATH/ localhost:/tmp/foo -e "incusd-helper netcat @sock"`
 * (the helper joins rsync's remote shell to an abstract socket the daemon
 * bridges to the websocket); the receiver runs `rsync --server` on its
 * stdio. Each direction of one transfer ends with a barrier.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { helperPath } from '../../native/addon';
import type { MigrationChannel } from './channel';

/** How long rsync has to connect to the socket (as Incus, 10 s). */
const SPAWN_TIMEOUT_MS = 10_000;

/** rsync options for the negotiated features (Incus's rsyncFeatureArgs). */
export function rsyncFeatureArgs(features: readonly string[]): string[] {
  const args: string[] = [];
  if (features.includes('xattrs')) args.push('--xattrs', '--filter=-x security.selinux');
  if (features.includes('delete')) args.push('--delete');
  if (features.includes('compress')) args.push('--compress', '--compress-level=2');
  return args;
}

function collectStderr(child: ChildProcess): () => string {
  let text = '';
  child.stderr?.on('data', (b: Buffer) => {
    if (text.length < 8192) text += b.toString();
  });
  return () => text.trim();
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('close', (code, signal) => resolve(code ?? (signal ? 128 : -1)));
  });
}

/** `p`, killing `child` when it fails. */
function killOnFailure<T>(child: ChildProcess, p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}

/** Sends directory `path` to the peer's receiver over `ch`. */
export async function rsyncSend(ch: MigrationChannel, path: string, features: readonly string[], extraArgs: readonly string[], onBytes?: (n: number) => void): Promise<void> {
  const name = `incusd/${randomUUID()}`;
  const server = createServer();
  server.listen(`\0${name}`);
  await once(server, 'listening');
  const args = ['-ar', '--devices', '--numeric-ids', '--partial', '--sparse', ...rsyncFeatureArgs(features), ...extraArgs];
  args.push(`${path.replace(/\/+$/, '')}/`, 'localhost:/tmp/foo', '-e', `${helperPath()} netcat @${name}`);
  const child = spawn('rsync', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = collectStderr(child);
  const exited = exitOf(child);
  let sock: Socket;
  try {
    sock = await new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`rsync failed to spawn after 10s (${stderr()})`)), SPAWN_TIMEOUT_MS);
      server.once('connection', (s: Socket) => {
        clearTimeout(timer);
        resolve(s);
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`Failed to connect to rsync socket: exit ${code} (${stderr()})`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    // The peer's receiver is waiting for a stream: end it empty so it fails on its own.
    ch.barrier();
    throw err;
  } finally {
    server.close();
  }
  sock.on('error', () => undefined);
  // A channel that fails ends rsync too (it would wait for the peer forever).
  const out = killOnFailure(child, ch.pipeFrom(sock, onBytes));
  const back = killOnFailure(child, ch.pipeTo(sock)).then(() => void sock.end());
  const [code, outErr, backErr] = await Promise.all([exited, out.then(() => null, (e: Error) => e), back.then(() => null, (e: Error) => e)]);
  if (code !== 0 || outErr || backErr) {
    throw new Error(`Rsync send failed: ${path}: ${[code !== 0 ? `exit status ${code}` : '', outErr?.message ?? '', backErr?.message ?? ''].filter(Boolean).join(', ')} (${stderr()})`);
  }
}

/**
 * The capabilities the receiving `rsync --server` is told the sender has.
 * Incus passes `.iLsfx` (rsync 3.0's set), which leaves rsync 3.2 on zlib
 * and MD5; adding `CIvu` lets both ends agree zstd/lz4 and xxh128 (about
 * 8× faster here). Every sender from rsync 3.2 on (Debian 12, Ubuntu
 * 22.04 and later) speaks them; the receiver's choice binds the sender.
 */
export const RECEIVER_CAPS = '-vlogDtpre.iLsfxCIvu';

/** Receives into directory `path` what the peer's sender sends over `ch`. */
export async function rsyncReceive(ch: MigrationChannel, path: string, features: readonly string[], onBytes?: (n: number) => void): Promise<void> {
  const args = ['--server', RECEIVER_CAPS, '--numeric-ids', '--devices', '--partial', '--sparse', '--modify-window=-1', ...rsyncFeatureArgs(features), '.', path];
  const child = spawn('rsync', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = collectStderr(child);
  const exited = exitOf(child);
  child.stdin!.on('error', () => undefined);
  const out = killOnFailure(child, ch.pipeFrom(child.stdout!));
  const back = killOnFailure(child, ch.pipeTo(child.stdin!, onBytes)).then(() => void child.stdin!.end());
  const [code, outErr, backErr] = await Promise.all([exited, out.then(() => null, (e: Error) => e), back.then(() => null, (e: Error) => e)]);
  if (code !== 0 || outErr || backErr) {
    throw new Error(`Rsync receive failed: ${path}: ${[code !== 0 ? `exit status ${code}` : '', outErr?.message ?? '', backErr?.message ?? ''].filter(Boolean).join(', ')} (${stderr()})`);
  }
}
