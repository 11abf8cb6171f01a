/** `incus admin init [--auto | --minimal | --preseed | --dump]` (interactive without flags), `waitready`, `shutdown`. */
import type { Command } from 'commander';
import type { IncusClient } from '../../client/client';
import type { CliContext } from '../context';
import { parseIntOption } from '../option-parsers';
import type { AutoStorageFlags } from '../admin-init-auto';
import { registerRecover } from './admin-recover';
import { registerAdminSql } from './admin-sql';

/** The root disk Incus puts in the default profile. */
export const ROOT_DISK = { type: 'disk', path: '/', pool: 'default' } as const;

/**
 * Minimal `admin init --auto`: a pool named `default` (`dir`, or as the
 * storage flags say) when the server has no pool, and a root disk on it in
 * the default profile when that profile has none; then, as Incus does, a
 * managed bridge `incusbrN` with `eth0` on it in the default profile when
 * the server has no managed network and that profile no NIC. Flags are
 * checked before anything changes.
 */
export async function initAuto(
  client: IncusClient,
  opts: { httpsAddress?: string; storage?: AutoStorageFlags; env?: NodeJS.ProcessEnv } = {},
): Promise<void> {
  // Incus reads the server first; a daemon that is down fails here, plainly.
  const server = await client.getServer();
  const pools = await client.getStoragePools().catch((err: Error) => {
    throw new Error(`Failed to retrieve list of storage pools: ${err.message}`);
  });
  const { autoStoragePool } = require('../admin-init-auto') as typeof import('../admin-init-auto');
  const supported = (server.environment?.storage_supported_drivers ?? []).map((d) => d.Name);
  const pool = autoStoragePool(opts.storage ?? {}, supported, pools.length, opts.env ?? process.env);
  if (opts.httpsAddress) {
    // Server config goes first, as Incus applies its init config in that order.
    const { value, etag } = await client.getServerWithEtag();
    await client.updateServer({ config: { ...(value.config ?? {}), 'core.https_address': opts.httpsAddress } }, { etag: etag || undefined });
  }
  if (pool) await client.createStoragePool({ ...pool, description: '' });
  const { value: profile, etag } = await client.getProfileWithEtag('default');
  const devices = profile.devices ?? {};
  const hasRoot = Object.values(devices).some((d) => d.type === 'disk' && d.path === '/');
  if (!hasRoot) {
    const name = devices.root ? 'root0' : 'root';
    await client.updateProfile(
      'default',
      { config: profile.config ?? {}, description: profile.description ?? '', devices: { ...devices, [name]: { ...ROOT_DISK, pool: pool?.name ?? ROOT_DISK.pool } } },
      { etag: etag || undefined },
    );
  }
  await initAutoNetwork(client);
}

/** The network half of `admin init --auto`. */
async function initAutoNetwork(client: IncusClient): Promise<void> {
  const { createNetwork, getNetworks } = require('../../client/networks') as typeof import('../../client/networks');
  const networks = await getNetworks(client).catch((err: Error) => {
    throw new Error(`Failed to retrieve list of networks: ${err.message}`);
  });
  const { value: profile, etag } = await client.getProfileWithEtag('default');
  const devices = profile.devices ?? {};
  if (networks.some((n) => n.managed) || Object.values(devices).some((d) => d.type === 'nic')) return;
  // The first incusbrN the server has no interface of that name for (its own view, not this client's).
  const taken = new Set(networks.map((n) => n.name));
  let idx = 0;
  while (taken.has(`incusbr${idx}`)) idx++;
  const name = `incusbr${idx}`;
  await createNetwork(client, { name, type: 'bridge', config: {}, description: '' });
  await client.updateProfile(
    'default',
    { config: profile.config ?? {}, description: profile.description ?? '', devices: { ...devices, eth0: { type: 'nic', network: name, name: 'eth0' } } },
    { etag: etag || undefined },
  );
}

/** Interactive init: Incus's questions on stdin, then the answers applied as a preseed would be. */
async function initInteractive(ctx: CliContext, client: IncusClient): Promise<void> {
  const { Asker } = require('../admin-init-ask') as typeof import('../admin-init-ask');
  const { runInteractive } = require('../admin-init-interactive') as typeof import('../admin-init-interactive');
  const { applyPreseed, clientPreseedApi } = require('../preseed-apply') as typeof import('../preseed-apply');
  await client.getServer();
  const ask = new Asker(process.stdin, ctx.io.out, ctx.io.err);
  let doc: Awaited<ReturnType<typeof runInteractive>>;
  try {
    doc = await runInteractive({ client, ask, out: ctx.io.out, env: ctx.io.env });
  } finally {
    ask.close();
  }
  const { config, networks, storage_pools, profiles, projects } = doc;
  await applyPreseed(clientPreseedApi(client), { config, networks, storage_pools, storage_volumes: [], profiles, projects });
}

/** One readiness probe: `/internal/ready` (Incus), else `GET /1.0` on servers without it. */
async function probe(client: IncusClient): Promise<void> {
  try {
    await client.raw('GET', '/internal/ready');
  } catch (err) {
    if ((err as { status?: number }).status === 404) {
      await client.getServer();
      return;
    }
    throw err;
  }
}

/** Polls every 500 ms until the daemon answers; 0 means wait forever. */
export async function waitReady(client: IncusClient, timeoutSeconds: number): Promise<void> {
  let last: unknown = null;
  let done = false;
  let pause: NodeJS.Timeout | undefined;
  const poll = async () => {
    while (!done) {
      try {
        await probe(client);
        return;
      } catch (err) {
        last = err;
      }
      await new Promise<void>((r) => (pause = setTimeout(r, 500)));
    }
  };
  if (timeoutSeconds <= 0) return poll();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = last instanceof Error ? last.message : String(last);
      reject(new Error(`Daemon still not running after ${timeoutSeconds}s timeout (${why})`));
    }, timeoutSeconds * 1000);
  });
  try {
    await Promise.race([poll(), timeout]);
  } finally {
    done = true;
    clearTimeout(timer);
    clearTimeout(pause);
  }
}

/** Asks the daemon to stop its instances and exit (`PUT /internal/shutdown`). */
export async function shutdown(client: IncusClient, force: boolean, timeoutSeconds: number): Promise<void> {
  const request = client.raw('PUT', `/internal/shutdown?force=${force ? 'true' : 'false'}`).then(
    () => undefined,
    (err: NodeJS.ErrnoException) => {
      // The daemon may close the connection as it exits: that is the goal reached.
      if (err.code === 'ECONNRESET' || err.message === 'socket hang up') return;
      throw err;
    },
  );
  if (timeoutSeconds <= 0) return request;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Daemon still running after ${timeoutSeconds}s timeout`)), timeoutSeconds * 1000);
  });
  try {
    await Promise.race([request, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `--network-address` and `--network-port` as one listen address (Incus's
 * CanonicalNetworkAddressFromAddressAndPort): a bare IPv6 address gets
 * brackets, a missing port is 8443.
 */
export function listenAddressOf(address: string, port: number | undefined): string {
  const p = port === undefined || port < 0 ? 8443 : port;
  const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return `${host}:${p}`;
}

interface InitFlags {
  auto?: boolean;
  minimal?: boolean;
  preseed?: boolean;
  dump?: boolean;
  networkAddress?: string;
  networkPort?: number;
  storageBackend?: string;
  storageCreateDevice?: string;
  storageCreateLoop?: number;
  storagePool?: string;
}

/** Incus's checks of the init flags. */
export function checkInitFlags(flags: InitFlags): void {
  if (flags.auto && flags.preseed) throw new Error("Can't use --auto and --preseed together");
  if (flags.minimal && flags.preseed) throw new Error("Can't use --minimal and --preseed together");
  if (flags.minimal && flags.auto) throw new Error("Can't use --minimal and --auto together");
  const storageFlags = [flags.storageBackend, flags.storageCreateDevice, flags.storageCreateLoop, flags.storagePool].some((f) => f !== undefined);
  const configFlags = flags.networkAddress !== undefined || flags.networkPort !== undefined || storageFlags;
  if (!flags.auto && configFlags) throw new Error('Configuration flags require --auto');
  if (!flags.networkAddress && flags.networkPort !== undefined) throw new Error("--network-port can't be used without --network-address");
  if (flags.dump && (flags.auto || flags.minimal || flags.preseed || configFlags)) {
    throw new Error("Can't use --dump with other flags");
  }
}

/** The preseed text: the file named, else stdin (also for `-`). */
async function readPreseed(file: string | undefined): Promise<string> {
  const { readFile } = require('node:fs/promises') as typeof import('node:fs/promises');
  if (file === undefined || file === '-') {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      throw new Error(`Failed to read from stdin: ${(err as Error).message}`);
    }
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`Failed to read from file: ${(err as Error).message}`);
  }
}

/**
 * Runs `fn` with a client of the local daemon, as Incus's admin commands
 * (ConnectIncusUnix): its Unix socket and default project, whatever the
 * default remote or the project switched to.
 */
async function onLocalDaemon<T>(ctx: CliContext, fn: (client: IncusClient) => Promise<T>): Promise<T> {
  const { IncusClient: Client } = require('../../client/client') as typeof import('../../client/client');
  const { discoverSocketPath } = require('../../client/socket-path') as typeof import('../../client/socket-path');
  const client = new Client({ socketPath: discoverSocketPath(ctx.io.env) });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Adds this group's commands to `program`. */
export function register(program: Command, ctx: CliContext): void {
  const admin = program.command('admin').description('Manage incus daemon');

  admin
    .command('init [preseed.yaml]')
    .description('Prepare the daemon')
    .option('--auto', 'Automatic (non-interactive) mode')
    .option('--minimal', 'Minimal configuration (non-interactive)')
    .option('--preseed', 'Pre-seed mode, expects YAML config from stdin')
    .option('--dump', 'Dump YAML config to stdout')
    .option('--network-address <address>', 'Address to bind to (default: none)')
    .option('--network-port <port>', 'Port to bind to (default: 8443)', parseIntOption)
    .option('--storage-backend <backend>', 'Storage backend to use (btrfs, dir, lvm or zfs, default: dir)')
    .option('--storage-create-device <device>', 'Setup device based storage using DEVICE')
    .option('--storage-create-loop <size>', 'Setup loop based storage with SIZE in GiB', parseIntOption)
    .option('--storage-pool <pool>', 'Storage pool to use or create')
    .action(async (file: string | undefined, flags: InitFlags) => {
      checkInitFlags(flags);
      if (file !== undefined && !flags.preseed) throw new Error('A preseed file is only taken with --preseed');
      await onLocalDaemon(ctx, async (client) => {
        if (flags.dump) {
          const { collectPreseedDump, formatPreseedDump } = require('../preseed-dump') as typeof import('../preseed-dump');
          ctx.out(`${formatPreseedDump(await collectPreseedDump(client))}\n`);
          return;
        }
        if (flags.preseed) {
          const { decodePreseed } = require('../preseed-decode') as typeof import('../preseed-decode');
          const { applyPreseed, clientPreseedApi } = require('../preseed-apply') as typeof import('../preseed-apply');
          // As Incus: the server is reached before the preseed is read; a daemon that is down fails here, plainly.
          await client.getServer();
          const preseed = decodePreseed(await readPreseed(file));
          const cluster = preseed.cluster ?? null;
          const clustering = cluster ? (require('../preseed-cluster') as typeof import('../preseed-cluster')) : null;
          if (cluster && clustering) {
            await clustering.fillClusterConfig(cluster, (line) => ctx.out(line));
            // Joining replaces this server's data by the cluster's: the rest of the preseed is not applied (as Incus).
            if (clustering.isJoin(cluster)) return clustering.joinCluster(client, cluster);
          }
          await applyPreseed(clientPreseedApi(client), preseed);
          // A cluster section without a member to join bootstraps one, once the rest is in place.
          if (cluster?.enabled && clustering) await clustering.enableCluster(client, cluster);
          return;
        }
        if (!flags.auto && !flags.minimal) {
          await initInteractive(ctx, client);
          return;
        }
        // As Incus, --minimal is --auto without flags.
        const httpsAddress = flags.networkAddress ? listenAddressOf(flags.networkAddress, flags.networkPort) : undefined;
        const storage = { backend: flags.storageBackend, device: flags.storageCreateDevice, loopSize: flags.storageCreateLoop, pool: flags.storagePool };
        await initAuto(client, { httpsAddress, storage, env: ctx.io.env });
      });
    });

  admin
    .command('waitready')
    .description('Wait for the daemon to be ready to process requests')
    .option('-t, --timeout <seconds>', 'Number of seconds to wait before giving up', parseIntOption, 0)
    .action(async (flags: { timeout: number }) => {
      await onLocalDaemon(ctx, (client) => waitReady(client, flags.timeout));
    });

  admin
    .command('shutdown')
    .description('Tell the daemon to shutdown all instances and exit')
    .option('-t, --timeout <seconds>', 'Number of seconds to wait before giving up', parseIntOption, 0)
    .option('-f, --force', 'Force shutdown instead of waiting for running operations to finish')
    .action(async (flags: { timeout: number; force?: boolean }) => {
      await onLocalDaemon(ctx, (client) => shutdown(client, flags.force ?? false, flags.timeout));
    });

  registerRecover(admin, ctx);
  registerAdminSql(admin, ctx);
}
