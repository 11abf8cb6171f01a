/**
 * rsync over a migration channel, as Incus runs it: the sender runs
 * `rsync -ar ... PATH/ localhost:/tmp/foo -e "incusd-helper netcat ..."`;
 * where Incus's netcat relays rsync's remote shell to a socket the daemon
 * bridges to the websocket, ours hands rsync's ends to the daemon (fd
 * passing), which frames them itself. The receiver runs `rsync --server`
 * on its stdio. Each direction of one transfer ends with a barrier; the
 * bytes on the websocket are the same either way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { helperPath } from '../../native/addon';
import { receiveMessage, seqpacketPair } from '../../native/fdpass';
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

/** The fd rsync (and its remote shell, which inherits it) gets the hand-over socket on. */
const PASS_FD = 3;

/** Sends directory `path` to the peer's receiver over `ch`. */
export async function rsyncSend(ch: MigrationChannel, path: string, features: readonly string[], extraArgs: readonly string[], onBytes?: (n: number) => void): Promise<void> {
  const args = ['-ar', '--devices', '--numeric-ids', '--partial', '--sparse', ...rsyncFeatureArgs(features), ...extraArgs];
  args.push(`${path.replace(/\/+$/, '')}/`, 'localhost:/tmp/foo', '-e', `${helperPath()} netcat --pass-fds ${PASS_FD}`);
  // The remote shell hands rsync's two ends over this socket: the daemon then reads and writes rsync's stream itself.
  const [ours, theirs] = seqpacketPair();
  let child: ChildProcess;
  try {
    child = spawn('rsync', args, { stdio: ['ignore', 'ignore', 'pipe', theirs] });
  } catch (err) {
    closeSync(ours);
    ch.barrier();
    throw err;
  } finally {
    closeSync(theirs);
  }
  const stderr = collectStderr(child);
  const exited = exitOf(child);
  let fds: number[];
  try {
    // Once rsync and its remote shell are gone without handing over, the socket reads end of stream.
    const timer = setTimeout(() => child.kill('SIGKILL'), SPAWN_TIMEOUT_MS);
    const m = await receiveMessage(ours, 16).finally(() => clearTimeout(timer));
    fds = m.fds;
    if (fds.length !== 2) {
      for (const fd of fds) closeSync(fd);
      child.kill('SIGKILL');
      throw new Error(`Failed to connect to rsync socket: exit ${await exited} (${stderr()})`);
    }
  } catch (err) {
    closeSync(ours);
    child.kill('SIGKILL');
    // The peer's receiver is waiting for a stream: end it empty so it fails on its own.
    ch.barrier();
    throw err;
  }
  const [fromRsync, toRsync] = fds as [number, number];
  const sink = new Socket({ fd: toRsync, readable: false, writable: true });
  sink.on('error', () => undefined);
  // A channel that fails ends rsync too (it would wait for the peer forever).
  const out = killOnFailure(child, ch.pipeFromFd(fromRsync, onBytes));
  const back = killOnFailure(child, ch.pipeTo(sink)).finally(() => {
    sink.end();
    // Lets the remote shell exit, which rsync waits for before it does.
    closeSync(ours);
  });
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
