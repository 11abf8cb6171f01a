/**
 * `incus file mount`: an instance's SFTP endpoint (the daemon's
 * `/1.0/instances/{name}/sftp`, served by the container's forkfile helper
 * or the VM's agent) made usable locally, as Incus does it: either
 * mounted with sshfs (`-o slave`: sshfs speaks SFTP on its stdin/stdout,
 * which are piped to the instance), or served by an SSH server on a local
 * address whose sftp subsystem is piped the same way, one instance
 * connection per SSH session.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Writer } from '../context';

/** The part of ssh2's server API used here (the package ships no types; see lib/sftp/channel.ts for the client side). */
interface AuthContext {
  method: string;
  username: string;
  password?: string;
  accept(): void;
  reject(methods?: string[]): void;
}
interface SshSession {
  on(ev: 'subsystem', fn: (accept: () => Duplex, reject: () => void, info: { name: string }) => void): void;
}
interface SshClient {
  on(ev: 'authentication', fn: (ctx: AuthContext) => void): void;
  on(ev: 'error', fn: (e: Error) => void): void;
  on(ev: 'close' | 'ready', fn: () => void): void;
  on(ev: 'session', fn: (accept: () => SshSession) => void): void;
}
interface SshServer {
  listen(port: number, host: string, cb: () => void): void;
  once(ev: 'error', fn: (e: Error) => void): void;
  address(): AddressInfo | string | null;
  close(cb: () => void): void;
}
interface Ssh2 {
  Server: new (cfg: { hostKeys: (string | Buffer)[] }, onClient: (client: SshClient, info: { ip: string; port: number }) => void) => SshServer;
  utils: { generateKeyPairSync(type: 'ed25519'): { private: string } };
}
const { Server, utils } = require('ssh2') as Ssh2;

/** Opens a fresh raw SFTP connection to the instance. */
export type SftpConnect = () => Promise<Duplex>;

/** Letters and digits, as Incus's generated user names and passwords. */
function randomWord(length: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0987654321';
  return [...randomBytes(length)].map((b) => chars[b % chars.length]).join('');
}

/** Pipes two duplexes both ways; resolves once either side has ended. */
function splice(a: Duplex, b: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      a.destroy();
      b.destroy();
      resolve();
    };
    a.pipe(b);
    b.pipe(a);
    for (const s of [a, b]) {
      s.once('close', done);
      s.once('end', done);
      s.once('error', done);
    }
  });
}

/**
 * Mounts `instance`:`relPath` on `target` with `sshfs -o slave` until
 * sshfs ends (ctrl+c unmounts: sshfs gets the SIGINT and the terminal's
 * too). Resolves with sshfs's exit code.
 */
export async function sshfsMount(conn: Duplex, instance: string, relPath: string, target: string, out: Writer): Promise<number> {
  // incus.<instance> as the source "host" shows the mount's owner in the mount table; it is never dialled.
  const child = spawn('sshfs', ['-o', 'slave', `incus.${instance}:${relPath}`, target], { stdio: ['pipe', 'pipe', 'inherit'] });
  const started = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`Failed starting sshfs: ${e.message}`)));
  });
  await started;
  out.write(`sshfs mounting "${instance}${relPath}" on "${target}"\nPress ctrl+c to finish\n`);
  conn.pipe(child.stdin!);
  child.stdout!.pipe(conn);
  conn.once('close', () => child.kill('SIGINT'));
  conn.on('error', () => child.kill('SIGINT'));
  child.stdin!.on('error', () => undefined);
  const code = await new Promise<number>((resolve) => child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  conn.destroy();
  return code;
}

export interface SftpListenerOptions {
  /** address:port (default 127.0.0.1 on a random port). */
  listen?: string;
  /** Accept any client without a password. */
  noAuth?: boolean;
  /** User name (default: random). */
  user?: string;
}

/** A running listener (the CLI keeps it until interrupted; tests close it). */
export interface SftpListener {
  address: AddressInfo;
  user?: string;
  password?: string;
  close(): Promise<void>;
}

function parseListen(listen: string | undefined): { host: string; port: number } {
  if (!listen) return { host: '127.0.0.1', port: 0 };
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new Error(`Invalid listen address "${listen}": expected address:port`);
  return { host: m[1] || '0.0.0.0', port: Number(m[2]) };
}

/**
 * Serves SSH on `opts.listen`: each session's sftp subsystem is piped to a
 * new instance connection. Prints the address and the credentials to `out`.
 */
export async function sftpListener(connect: SftpConnect, opts: SftpListenerOptions, out: Writer, err: Writer): Promise<SftpListener> {
  const { host, port } = parseListen(opts.listen);
  const user = opts.noAuth ? undefined : (opts.user ?? randomWord(8));
  const password = opts.noAuth ? undefined : randomWord(8);
  const hostKey = utils.generateKeyPairSync('ed25519').private;
  const server = new Server({ hostKeys: [hostKey] }, (client, info) => {
    const peer = `${info.ip}:${info.port}`;
    out.write(`SSH client connected "${peer}"\n`);
    client.on('authentication', (ctx) => {
      if (opts.noAuth) return ctx.accept();
      if (ctx.method === 'password' && ctx.username === user && ctx.password === password) return ctx.accept();
      if (ctx.method === 'password') err.write(`Password rejected for "${ctx.username}"\n`);
      ctx.reject(['password']);
    });
    client.on('error', (e) => err.write(`SSH client "${peer}": ${e.message}\n`));
    client.on('close', () => out.write(`SSH client disconnected "${peer}"\n`));
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('subsystem', (accept, reject, sub) => {
          if (sub.name !== 'sftp') return reject();
          const channel = accept();
          connect().then(
            (conn) => splice(channel, conn),
            (e: Error) => {
              err.write(`Failed connecting to instance SFTP for client "${peer}": ${e.message}\n`);
              channel.destroy();
            },
          );
        });
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: Error) => reject(new Error(`Failed to listen for connection: ${e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  out.write(`SSH SFTP listening on ${address.address}:${address.port}\n`);
  out.write(opts.noAuth ? 'Login without username and password\n' : `Login with username "${user}" and password "${password}"\n`);
  return {
    address,
    user,
    password,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
