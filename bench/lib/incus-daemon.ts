/**
 * A real incusd on a temporary INCUS_DIR for benchmarks: started, set up
 * with a dir pool and a NIC-less default profile, fed the busybox image,
 * and torn down (instances, daemon, leftover containers) even on SIGINT.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { IncusClient } from '../../lib/client';
import { importImage } from '../../lib/image-builder';
import { BenchContext, Unavailable } from './case';
import { alive, sleep, terminate } from './exec';

/** A running daemon owned by the benchmark. */
export interface IncusDaemon {
  /** Its INCUS_DIR. */
  readonly dir: string;
  readonly socket: string;
  readonly pid: number;
  /** Environment for CLI calls that must reach this daemon. */
  readonly env: NodeJS.ProcessEnv;
  readonly client: IncusClient;
  /** Deletes leftover instances, stops the daemon, kills stray containers. */
  stop(): Promise<void>;
}

/** The image alias the lifecycle case launches from. */
export const BENCH_IMAGE_ALIAS = 'busybox';

function logTail(file: string): string {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text === '' ? '(empty log)' : text.split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Throws Unavailable when the daemon has not been built. */
export function checkDaemonBuilt(repoRoot: string): void {
  for (const rel of ['bin/incusd', 'dist/lib/server/main.js']) {
    if (!fs.existsSync(path.join(repoRoot, rel))) throw new Unavailable(`incus side skipped: ${rel} does not exist yet`);
  }
}

async function waitReady(ctx: BenchContext, client: IncusClient, exited: () => string | undefined, socket: string, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '';
  while (Date.now() < deadline) {
    if (ctx.signal.aborted) throw new Error('interrupted');
    const how = exited();
    if (how !== undefined) throw new Error(`incusd exited during start-up (${how}): ${logTail(log)}`);
    if (fs.existsSync(socket)) {
      try {
        await client.getServer();
        return;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    await sleep(50);
  }
  throw new Error(`incusd did not answer on ${socket} within 30 s (${last}):\n${logTail(log)}`);
}

/**
 * What `incus admin init --auto` sets up, minus its managed bridge (the
 * bench creates no network objects on the host, and the floor has no NIC
 * either): a `default` dir pool and a root disk in the default profile.
 */
async function initDaemon(client: IncusClient): Promise<void> {
  const pools = await client.getStoragePools();
  if (!pools.some((p) => p.name === 'default')) {
    await client.createStoragePool({ name: 'default', driver: 'dir', config: {}, description: '' });
  }
  const { value: profile, etag } = await client.getProfileWithEtag('default');
  const hasRoot = Object.values(profile.devices).some((d) => d.type === 'disk' && d.path === '/');
  if (!hasRoot) {
    await client.updateProfile('default', {
      config: profile.config,
      description: profile.description,
      devices: { ...profile.devices, root: { type: 'disk', path: '/', pool: 'default' } },
    }, { etag });
  }
}

/** Best effort: force-stop and delete whatever instances are left. */
async function deleteAllInstances(client: IncusClient, signal: AbortSignal): Promise<void> {
  for (const name of await client.getInstances(0, { signal })) {
    try {
      await (await client.updateInstanceState(name, { action: 'stop', force: true }, { signal })).wait(signal);
    } catch (err) {
      if (signal.aborted) throw err;
      // Already stopped, or the daemon cannot; delete decides.
    }
    await (await client.deleteInstance(name, { signal })).wait(signal);
  }
}

/**
 * Starts `node bin/incusd` on a fresh INCUS_DIR and imports `image` as
 * {@link BENCH_IMAGE_ALIAS}; `root` is the checkout whose daemon runs (this
 * one unless a case compares against a baseline build).
 */
export async function startIncusDaemon(ctx: BenchContext, image: string, root = ctx.repoRoot): Promise<IncusDaemon> {
  checkDaemonBuilt(root);
  const dir = await ctx.tmpDir('bench-incusd-');
  const socket = path.join(dir, 'unix.socket');
  const logFile = path.join(dir, 'incusd.log');
  const env: NodeJS.ProcessEnv = { ...process.env, INCUS_DIR: dir };
  delete env.INCUS_SOCKET;

  const out = fs.openSync(logFile, 'a');
  // Own process group: a terminal ^C reaches only the harness, which then
  // tears the daemon down in order.
  const child = spawn(process.execPath, [path.join(root, 'bin', 'incusd')], {
    env, detached: true, stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn incusd');
  child.unref();
  let exit: string | undefined;
  child.once('exit', (code, sig) => {
    exit = sig !== null ? `signal ${sig}` : `status ${code}`;
  });
  const client = new IncusClient({ socketPath: socket });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (alive(pid)) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), 30_000);
      await deleteAllInstances(client, ac.signal).catch((err: Error) => ctx.log(`deleting instances: ${err.message}`));
      clearTimeout(timer);
    }
    client.close();
    await terminate(pid, 15_000);
    // Containers outlive the daemon by design: kill any it left running.
    const lxcpath = path.join(dir, 'containers');
    const ls = await ctx.exec('lxc-ls', ['-P', lxcpath, '--running', '-1'], { allowFail: true });
    for (const name of ls.stdout.split('\n').filter((n) => n !== '')) {
      ctx.log(`killing container ${name} left running by incusd`);
      await ctx.exec('lxc-stop', ['-P', lxcpath, '-n', name, '-k'], { allowFail: true });
    }
  };
  const handle = ctx.defer(`incusd (pid ${pid})`, stop);

  try {
    await waitReady(ctx, client, () => exit, socket, logFile);
    await initDaemon(client);
    await importImage(image, { aliases: [BENCH_IMAGE_ALIAS], socketPath: socket });
  } catch (err) {
    await handle.run();
    throw err;
  }
  return { dir, socket, pid, env, client, stop: () => handle.run() };
}

/**
 * A daemon with one running busybox container named `name`, for the cases
 * that measure work inside a container; Unavailable when the daemon cannot
 * come up here.
 */
export async function daemonWithContainer(ctx: BenchContext, image: string, name: string): Promise<IncusDaemon> {
  let daemon: IncusDaemon;
  try {
    daemon = await startIncusDaemon(ctx, image);
  } catch (err) {
    throw new Unavailable(err instanceof Unavailable ? err.message : `the daemon did not come up: ${(err as Error).message.split('\n')[0]}`);
  }
  ctx.log(`incusd pid ${daemon.pid} on ${daemon.dir}`);
  await (await daemon.client.createInstance({ name, source: { type: 'image', alias: BENCH_IMAGE_ALIAS } })).wait();
  await (await daemon.client.updateInstanceState(name, { action: 'start' })).wait();
  return daemon;
}
