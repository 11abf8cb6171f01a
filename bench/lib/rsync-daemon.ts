/**
 * rsync's own network mode as a floor for any copy between two servers:
 * `rsync --daemon` on 127.0.0.1 with one writable module, and the sender
 * talking to it over a bare TCP socket (`rsync://`). No TLS, no relay
 * process, no websocket: what rsync itself costs once its two ends sit on
 * either side of a stream, with or without the compression a migration
 * negotiates. A transport that adds anything to that (a TLS link, a daemon
 * relaying frames) cannot be faster.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { BenchContext } from './case';
import { freeLocalPort } from './free-port';

/** Whether something listens on 127.0.0.1:`port` (/proc/net/tcp, state 0A). */
export function listeningOn(port: number, procNetTcp = readFileSync('/proc/net/tcp', 'utf8')): boolean {
  const want = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return procNetTcp.split('\n').some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === want && f[3] === '0A';
  });
}

/** rsyncd.conf for one module `name` at `dir`, written to as root with ids kept as sent. */
export function rsyncdConfig(port: number, name: string, dir: string): string {
  return [
    `port = ${port}`,
    'address = 127.0.0.1',
    'use chroot = no',
    'uid = root',
    'gid = root',
    `[${name}]`,
    `path = ${dir}`,
    'read only = no',
    'numeric ids = yes',
    '',
  ].join('\n');
}

export interface RsyncDaemon {
  /** The module's URL for the sender (`rsync://127.0.0.1:PORT/m/`). */
  readonly url: string;
  /** Where the module writes. */
  readonly dir: string;
}

const MODULE = 'm';

/** Starts the daemon (stopped, by PID, when the case ends) writing into `dir`. */
export async function startRsyncDaemon(ctx: BenchContext, work: string, dir: string): Promise<RsyncDaemon> {
  const port = await freeLocalPort();
  const conf = path.join(work, 'rsyncd.conf');
  await fs.writeFile(conf, rsyncdConfig(port, MODULE, dir));
  await fs.mkdir(dir, { recursive: true });
  const child = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  ctx.defer(`rsync --daemon (pid ${child.pid})`, async () => {
    child.kill('SIGTERM');
    await exited;
  });
  for (let i = 0; i < 500 && !listeningOn(port); i++) await new Promise((r) => setTimeout(r, 10));
  if (!listeningOn(port)) throw new Error('rsync --daemon did not listen');
  return { url: `rsync://127.0.0.1:${port}/${MODULE}/`, dir };
}
