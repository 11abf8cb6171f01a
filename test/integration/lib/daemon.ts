/**
 * Test harness: a real incusd on a temporary INCUS_DIR, our CLI and client
 * pointed at it, and cleanup of everything it started (by PID and path).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncusClient } from '../../../lib/client';
import { busyboxImage } from './image';

export const ROOT = join(__dirname, '..', '..', '..', '..');
const INCUSD = join(ROOT, 'bin', 'incusd');
const INCUS = join(ROOT, 'bin', 'incus');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class TestDaemon {
  proc: ChildProcess | null = null;
  readonly client: IncusClient;
  readonly socket: string;

  constructor(readonly dir: string) {
    this.socket = join(dir, 'unix.socket');
    this.client = new IncusClient({ socketPath: this.socket });
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  /** Starts incusd and waits until the API answers. */
  async start(): Promise<void> {
    const proc = spawn(process.execPath, [INCUSD, '--logfile', join(this.dir, 'incusd.log')], {
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

  /** Runs our CLI against this daemon. */
  cli(args: string[], input?: string): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const c = spawn(process.execPath, [INCUS, ...args], {
        env: { ...process.env, INCUS_DIR: this.dir, INCUS_SOCKET: '' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      c.on('error', reject);
      c.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      c.stdin.end(input ?? '');
    });
  }

  /** Initialises the default pool and profile and imports the busybox image as "busybox". */
  async init(): Promise<void> {
    const r = await this.cli(['admin', 'init', '--auto']);
    if (r.code !== 0) throw new Error(`admin init failed: ${r.stderr}`);
    const img = await busyboxImage();
    const i = await this.cli(['image', 'import', img, '--alias', 'busybox']);
    if (i.code !== 0) throw new Error(`image import failed: ${i.stderr}`);
  }

  /** Force-stops and deletes every instance, stops the daemon, removes the directory. */
  async destroy(): Promise<void> {
    try {
      if (!this.proc) await this.start();
      const names = (await this.client.getInstances(0)) as string[];
      for (const url of names) {
        const name = decodeURIComponent(url.split('/').pop()!.split('?')[0]);
        await this.cli(['delete', '-f', name]);
      }
    } catch {
      // Fall through to the low-level cleanup below.
    }
    await this.signal('SIGTERM');
    killLeftoverContainers(join(this.dir, 'containers'));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Last resort: lxc-stop -k anything still running from this lxcpath. */
function killLeftoverContainers(lxcpath: string): void {
  if (!existsSync(lxcpath)) return;
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const ls = spawnSync('lxc-ls', ['-P', lxcpath, '--running', '-1'], { encoding: 'utf8' });
  for (const n of ls.stdout.split('\n').filter(Boolean)) spawnSync('lxc-stop', ['-P', lxcpath, '-n', n, '-k']);
}

/** A fresh daemon on a temp dir, torn down with the test. */
export async function withDaemon(t: { teardown(fn: () => unknown): void }, opts: { init?: boolean } = {}): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'incus-test-'));
  const d = new TestDaemon(dir);
  t.teardown(() => d.destroy());
  await d.start();
  if (opts.init !== false) await d.init();
  return d;
}
