/**
 * Test harness: a real incusd on a temporary INCUS_DIR, our CLI and client
 * pointed at it, and cleanup of everything it started (by PID and path).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncusClient } from '../../../lib/client';
import { busyboxImage } from './image';
import { NetNamespace } from './netns';
import { freeLocalPort } from '../../../bench/lib/free-port';

export const ROOT = join(__dirname, '..', '..', '..', '..');
const INCUSD = join(ROOT, 'bin', 'incusd');
const INCUS = join(ROOT, 'bin', 'incus');

/**
 * Whether this test process drives the CLI over HTTPS (INCUS_TEST_TRANSPORT=https,
 * set by the wrappers in test/integration/https-mode/ before they load a test file).
 */
export function httpsMode(): boolean {
  return process.env.INCUS_TEST_TRANSPORT === 'https';
}

/** The name of the HTTPS remote in HTTPS mode's client config. */
export const HTTPS_REMOTE = 'srv';

/** The remote the test daemons' CLI calls go to by default: `local` (the socket), or the HTTPS one in HTTPS mode. */
export function cliRemote(): string {
  return httpsMode() ? HTTPS_REMOTE : 'local';
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a Node script of bin/ with `env` on top of this process's environment; `input` goes to its stdin. */
export function runNodeScript(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string | Buffer } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    c.stdin.end(opts.input ?? '');
  });
}

/** Runs `bin/incus` with `env` on top of this process's environment; `input` goes to its stdin. */
export function runCli(env: NodeJS.ProcessEnv, args: string[], input: string | Buffer = ''): Promise<CliResult> {
  return runNodeScript(INCUS, args, { env, input });
}

export class TestDaemon {
  proc: ChildProcess | null = null;
  readonly client: IncusClient;
  readonly socket: string;
  /** In HTTPS mode: the client config dir (INCUS_CONF) whose default remote is this daemon over HTTPS. */
  httpsConf: string | null = null;

  /**
   * @param netns when set, incusd runs inside this network + mount namespace
   *   (bridges, veths, dnsmasq and nft rules stay in it); the CLI and client
   *   still reach it through its socket under `dir`.
   */
  constructor(
    readonly dir: string,
    readonly netns: NetNamespace | null = null,
  ) {
    this.socket = join(dir, 'unix.socket');
    this.client = new IncusClient({ socketPath: this.socket });
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  /** Starts incusd and waits until the API answers. */
  async start(): Promise<void> {
    const argv = [process.execPath, INCUSD, '--logfile', join(this.dir, 'incusd.log')];
    const [bin, ...args] = this.netns ? [...this.netns.prefix(), ...argv] : argv;
    const proc = spawn(bin!, args, {
      env: { ...process.env, INCUS_DIR: this.dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.proc = proc;
    let stderr = '';
    proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`incusd exited ${proc.exitCode}: ${stderr}`);
      try {
        if (existsSync(this.socket)) {
          await this.client.getServer();
          return;
        }
      } catch {
        // Not ready yet.
      }
      if (Date.now() > deadline) throw new Error(`incusd did not answer within 20 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal to the daemon and waits for it to exit. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(sig);
    await exited;
    this.proc = null;
  }

  /**
   * The environment that points our CLI at this daemon: its socket, and in
   * HTTPS mode also a config dir whose default remote reaches it over HTTPS
   * (the socket stays reachable for `--force-local` and local-only commands).
   */
  get cliEnv(): Record<string, string> {
    const env: Record<string, string> = { INCUS_DIR: this.dir, INCUS_SOCKET: '' };
    if (this.httpsConf) Object.assign(env, { INCUS_CONF: this.httpsConf, INCUS_REMOTE: '' });
    return env;
  }

  /** Runs our CLI against this daemon. */
  cli(args: string[], input?: string | Buffer): Promise<CliResult> {
    return runCli(this.cliEnv, args, input);
  }

  /**
   * HTTPS mode: listens on 127.0.0.1:<free port>, redeems a trust token with
   * `remote add` in a client config dir (the caller's INCUS_CONF if that
   * exists, else one under `dir`), makes that remote the default with `remote
   * switch`, and checks that a plain `incus query` is then served over TLS.
   */
  async useHttps(): Promise<void> {
    const { createCertificateToken, tokenOfOperation } = await import('../../../lib/client/certificates');
    const { encodeCertificateToken } = await import('../../../lib/api/certificate');
    const port = await freeLocalPort();
    const { value, etag } = await this.client.getServerWithEtag();
    await this.client.updateServer({ config: { ...(value.config ?? {}), 'core.https_address': `127.0.0.1:${port}` } }, { etag: etag || undefined });
    const token = tokenOfOperation(await createCertificateToken(this.client, { name: 'https-mode', type: 'client' }));
    if (!token) throw new Error('no token in the certificate add operation');
    // The test's own config dir when it made one (projects-cli reads config.yml there); not one gone with an earlier daemon's dir.
    const own = process.env.INCUS_CONF;
    const conf = own && existsSync(own) ? own : join(this.dir, 'https-client');
    const env = { INCUS_DIR: this.dir, INCUS_SOCKET: '', INCUS_CONF: conf, INCUS_REMOTE: '' };
    for (const args of [['remote', 'add', HTTPS_REMOTE, encodeCertificateToken(token)], ['remote', 'switch', HTTPS_REMOTE]]) {
      const r = await runCli(env, args);
      if (r.code !== 0) throw new Error(`incus ${args.join(' ')} failed: ${r.stderr}`);
    }
    this.httpsConf = conf;
    const q = await this.cli(['query', '/1.0']);
    const method = q.code === 0 ? (JSON.parse(q.stdout) as { auth_user_method?: string }).auth_user_method : q.stderr;
    if (method !== 'tls') throw new Error(`HTTPS mode: the CLI's default remote answered with auth_user_method ${method}`);
  }

  /**
   * Initialises the default pool and profile and imports the busybox image as
   * "busybox". In a private network namespace that is `admin init --auto`
   * (which also makes incusbr0 and eth0); on the host's own namespace only
   * its storage half, through the API, so that no bridge appears on the host.
   */
  async init(): Promise<void> {
    if (this.netns) {
      const r = await this.cli(['admin', 'init', '--auto']);
      if (r.code !== 0) throw new Error(`admin init failed: ${r.stderr}`);
    } else {
      await this.client.createStoragePool({ name: 'default', driver: 'dir', config: {}, description: '' });
      const { value, etag } = await this.client.getProfileWithEtag('default');
      const devices = { ...value.devices, root: { type: 'disk', path: '/', pool: 'default' } };
      await this.client.updateProfile('default', { config: value.config ?? {}, description: value.description ?? '', devices }, { etag });
    }
    const img = await busyboxImage();
    const i = await this.cli(['image', 'import', img, '--alias', 'busybox']);
    if (i.code !== 0) throw new Error(`image import failed: ${i.stderr}`);
  }

  /** Runs a command in a container with lxc-attach (from inside the namespace when there is one). */
  attach(name: string, cmd: string[], timeoutMs = 60_000): { code: number | null; out: string; err: string } {
    const argv = ['lxc-attach', '-P', join(this.dir, 'containers'), '-n', name, '--', ...cmd];
    if (this.netns) return this.netns.run(argv, timeoutMs);
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
  }

  /** Force-stops and deletes every instance (and managed network), stops the daemon, removes the directory. */
  async destroy(): Promise<void> {
    try {
      if (!this.proc) await this.start();
      const names = (await this.client.getInstances(0)) as string[];
      for (const url of names) {
        const name = decodeURIComponent(url.split('/').pop()!.split('?')[0]);
        await this.cli(['delete', '-f', name]);
      }
      if (this.netns) {
        for (const p of (await this.client.getProfiles()).filter((p) => p.name !== 'default')) await this.cli(['profile', 'delete', p.name]);
        const { value, etag } = await this.client.getProfileWithEtag('default');
        const devices = Object.fromEntries(Object.entries(value.devices ?? {}).filter(([, d]) => d.type !== 'nic'));
        await this.client.updateProfile('default', { config: value.config ?? {}, description: value.description ?? '', devices }, { etag });
        const { getNetworks } = require('../../../lib/client/networks') as typeof import('../../../lib/client/networks');
        for (const n of (await getNetworks(this.client)).filter((n) => n.managed)) await this.cli(['network', 'delete', n.name]);
      }
    } catch {
      // Fall through to the low-level cleanup below.
    }
    await this.signal('SIGTERM');
    killLeftoverContainers(join(this.dir, 'containers'), this.netns?.prefix() ?? []);
    killLeftoverDnsmasq(join(this.dir, 'networks'));
    killLeftoverQemu(join(this.dir, 'logs'));
    await this.netns?.close();
    releaseMountsAndLoops(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Last resort: lxc-stop -k anything still running from this lxcpath. */
function killLeftoverContainers(lxcpath: string, prefix: string[]): void {
  if (!existsSync(lxcpath)) return;
  const run = (argv: string[]) => spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const ls = run([...prefix, 'lxc-ls', '-P', lxcpath, '--running', '-1']);
  for (const n of (ls.stdout ?? '').split('\n').filter(Boolean)) run([...prefix, 'lxc-stop', '-P', lxcpath, '-n', n, '-k']);
}

/** Last resort: the dnsmasq processes this daemon started, found by their PID files. */
function killLeftoverDnsmasq(networksDir: string): void {
  if (!existsSync(networksDir)) return;
  for (const n of readdirSync(networksDir)) {
    let pid = 0;
    try {
      pid = Number(readFileSync(join(networksDir, n, 'dnsmasq.pid'), 'utf8').trim());
    } catch {
      continue;
    }
    if (!pid) continue;
    const exe = spawnSync('readlink', [`/proc/${pid}/exe`], { encoding: 'utf8' }).stdout.trim();
    if (exe.endsWith('/dnsmasq')) process.kill(pid, 'SIGKILL');
  }
}

/** Last resort: the QEMU processes of this daemon's VMs, found by their pidfiles (logs/<vm>/qemu.pid). */
function killLeftoverQemu(logsDir: string): void {
  if (!existsSync(logsDir)) return;
  for (const n of readdirSync(logsDir)) {
    let pid = 0;
    try {
      pid = Number(readFileSync(join(logsDir, n, 'qemu.pid'), 'utf8').trim());
    } catch {
      continue;
    }
    if (!pid) continue;
    const argv = spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout;
    if (argv.includes('qemu-system') && argv.includes(logsDir)) process.kill(pid, 'SIGKILL');
  }
}

/** withDaemon options. */
export interface DaemonOptions {
  /** Run `admin init --auto` (or its storage half) and import busybox; default true. */
  init?: boolean;
  /** Run incusd in a fresh network + mount namespace (for network tests); default false. */
  netns?: boolean;
}

/** A fresh daemon on a temp dir, torn down with the test. */
export async function withDaemon(t: { teardown(fn: () => unknown): void }, opts: DaemonOptions = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'incus-test-'));
  const ns = opts.netns ? await NetNamespace.create() : null;
  const d = new TestDaemon(dir, ns);
  t.teardown(() => d.destroy());
  await d.start();
  // A daemon in its own network namespace listens on that namespace's loopback, out of the CLI's reach: it stays on the socket.
  if (httpsMode() && !ns) await d.useHttps();
  if (opts.init !== false) await d.init();
  return d;
}

/**
 * Last resort for pools the test did not delete: unmount everything mounted
 * under dir (deepest first) and detach loop devices backed by files in it,
 * so that no mount or loop device outlives the test.
 */
function releaseMountsAndLoops(dir: string): void {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const { readFileSync } = require('node:fs') as typeof import('node:fs');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  const loops = spawnSync('losetup', ['-a'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of loops.split('\n')) {
    const m = /^(\/dev\/loop\d+):.*\((.*?)(?: \(deleted\))?\)$/.exec(line);
    if (m && m[2].startsWith(`${dir}/`)) spawnSync('losetup', ['-d', m[1]]);
  }
}
