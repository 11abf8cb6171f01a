/**
 * Interactive `incus admin init`: Incus's questions, in its order and
 * wording (cmd/incus/admin_init_interactive.go), turned into an init
 * preseed. Clustering is not supported: the question is asked, and "yes" is
 * refused. The storage drivers offered are those the server lists.
 */
import type { IncusClient } from '../client/client';
import type { Asker } from './admin-init-ask';
import { backingFilesystem, bindProblem, defaultLoopSizeGiB, hostInterfaceExists, onPath, runningInUserNS, varPath } from './admin-init-host';
import { bindAddressProblem, interfaceNameProblem, ipv4AnswerProblem, ipv6AnswerProblem } from './admin-init-validate';
import type { Writer } from './context';
import type { PreseedDump } from './preseed-dump';

/** api.InitPreseed as interactive init fills and prints it (no cluster section). */
export type InitPreseedDoc = PreseedDump & { cluster: null };

/** What the questions need besides the answers. */
export interface InitEnv {
  client: IncusClient;
  ask: Asker;
  out: Writer;
  env: NodeJS.ProcessEnv;
}

const YES_NO = (def: 'yes' | 'no') => ` (yes/no) [default=${def}]: `;
const HTTPS_DEFAULT_PORT = 8443;

/** newInitPressed: empty config, lists and the default profile. */
function emptyPreseed(): InitPreseedDoc {
  return {
    config: {},
    networks: [],
    storage_pools: [],
    storage_volumes: [],
    profiles: [{ config: {}, description: '', devices: {}, name: 'default', project: 'default' }],
    projects: [],
    certificates: [],
    cluster_groups: [],
    cluster: null,
  };
}

async function exists(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return true;
  } catch {
    return false;
  }
}

/** Asks every question and returns the preseed the answers describe (printed when asked to). */
export async function runInteractive(e: InitEnv): Promise<InitPreseedDoc> {
  const config = emptyPreseed();
  if (await e.ask.askBool(`Would you like to use clustering?${YES_NO('no')}`, 'no')) {
    throw new Error('Clustering is not supported yet');
  }
  const server = await e.client.getServer();
  await askStorage(e, config, server.environment?.storage_supported_drivers ?? []);
  await askNetworking(e, config);
  await askDaemon(e, config, server.config ?? {});
  if (await e.ask.askBool(`Would you like a YAML "init" preseed to be printed?${YES_NO('no')}`, 'no')) {
    const { formatPreseedDump } = require('./preseed-dump') as typeof import('./preseed-dump');
    e.out.write(`${formatPreseedDump(config)}\n`);
  }
  return config;
}

async function askStorage(e: InitEnv, config: InitPreseedDoc, supported: { Name: string; Remote: boolean }[]): Promise<void> {
  if (!(await e.ask.askBool(`Do you want to configure a new storage pool?${YES_NO('yes')}`, 'yes'))) return;
  const backingFs = backingFilesystem(varPath(e.env));
  // linux.AvailableStorageDrivers for any pool type: in a user namespace only dir, and btrfs on btrfs.
  const userns = runningInUserNS();
  const available = supported
    .map((d) => d.Name)
    .filter((n) => !['cephfs', 'cephobject'].includes(n))
    .filter((n) => n === 'dir' || !userns || (backingFs === 'btrfs' && n === 'btrfs'));
  if (available.length === 0) throw new Error('No storage backends available');
  let defaultStorage = 'dir';
  if (backingFs === 'btrfs' && available.includes('btrfs')) defaultStorage = 'btrfs';
  else if (available.includes('zfs')) defaultStorage = 'zfs';
  else if (available.includes('btrfs')) defaultStorage = 'btrfs';
  const { getStoragePool } = require('../client/storage') as typeof import('../client/storage');

  for (;;) {
    const pool = { config: {} as Record<string, string>, description: '', name: '', driver: '' };
    pool.name = await e.ask.askString('Name of the new storage pool [default=default]: ', 'default');
    if (await exists(() => getStoragePool(e.client, pool.name))) {
      e.out.write(`The requested storage pool "${pool.name}" already exists. Please choose another name.\n`);
      continue;
    }
    const devices = config.profiles[0]!.devices;
    devices.root ??= { type: 'disk', path: '/', pool: pool.name };
    pool.driver =
      available.length > 1
        ? await e.ask.askChoice(`Name of the storage backend to use (${available.join(', ')}) [default=${defaultStorage}]: `, available, defaultStorage)
        : available[0]!;

    if (pool.driver === 'dir') {
      const source = await e.ask.askString(`Where should this storage pool store its data? [default=${varPath(e.env, 'storage-pools', pool.name)}]: `, '', () => null);
      if (source !== '') pool.config.source = source;
      config.storage_pools.push(pool);
      return;
    }
    if (pool.driver === 'btrfs' && backingFs === 'btrfs') {
      if (await e.ask.askBool(`Would you like to create a new btrfs subvolume under ${varPath(e.env, '')}?${YES_NO('yes')}`, 'yes')) {
        pool.config.source = varPath(e.env, 'storage-pools', pool.name);
        config.storage_pools.push(pool);
        return;
      }
    }
    if (await e.ask.askBool(`Create a new ${pool.driver.toUpperCase()} pool?${YES_NO('yes')}`, 'yes')) {
      await askNewPoolSource(e, pool);
    } else {
      pool.config.source = await e.ask.askString(`Name of the existing ${pool.driver.toUpperCase()} pool or dataset: `, '');
    }
    if (pool.driver === 'lvm' && !onPath('thin_check', e.env)) {
      e.out.write(
        '\nThe LVM thin provisioning tools couldn\'t be found.\nLVM can still be used without thin provisioning but this will disable over-provisioning,\nincrease the space requirements and creation time of images, instances and snapshots.\n\nIf you wish to use thin provisioning, abort now, install the tools from your Linux distribution\nand make sure that your user can see and run the "thin_check" command before running "init" again.\n\n',
      );
      if (!(await e.ask.askBool(`Do you want to continue without thin provisioning?${YES_NO('yes')}`, 'yes'))) {
        throw new Error("The LVM thin provisioning tools couldn't be found on the system");
      }
      pool.config['lvm.use_thinpool'] = 'false';
    }
    config.storage_pools.push(pool);
    return;
  }
}

/** A new block-backed pool: an empty block device, or a loop file of some GiB. */
async function askNewPoolSource(e: InitEnv, pool: { config: Record<string, string> }): Promise<void> {
  if (await e.ask.askBool(`Would you like to use an existing empty block device (e.g. a disk or partition)?${YES_NO('no')}`, 'no')) {
    const { statSync } = require('node:fs') as typeof import('node:fs');
    pool.config.source = await e.ask.askString('Path to the existing block device: ', '', (p) => {
      try {
        if (statSync(p).isBlockDevice()) return null;
      } catch {
        // Not there: not a block device either.
      }
      return `${JSON.stringify(p)} is not a block device`;
    });
    return;
  }
  const def = defaultLoopSizeGiB(varPath(e.env));
  const size = await e.ask.askString(`Size in GiB of the new loop device (1GiB minimum) [default=${def}GiB]: `, `${def}GiB`, (input) => {
    const n = input.split('GiB')[0]!;
    if (!/^[+-]?\d+$/.test(n)) return `strconv.ParseInt: parsing ${JSON.stringify(n)}: invalid syntax`;
    return Number(n) < 1 ? 'Minimum size is 1GiB' : null;
  });
  pool.config.size = size.endsWith('GiB') ? size : `${size}GiB`;
}

async function askNetworking(e: InitEnv, config: InitPreseedDoc): Promise<void> {
  const devices = config.profiles[0]!.devices;
  if (!(await e.ask.askBool(`Would you like to create a new local network bridge?${YES_NO('yes')}`, 'yes'))) {
    if (!(await e.ask.askBool(`Would you like to use an existing bridge or host interface?${YES_NO('no')}`, 'no'))) return;
    for (;;) {
      const name = await e.ask.askString('Name of the existing bridge or host interface: ', '');
      if (!hostInterfaceExists(name)) {
        e.out.write("The requested interface doesn't exist. Please choose another one.\n");
        continue;
      }
      devices.eth0 = { type: 'nic', nictype: hostInterfaceExists(name, true) ? 'bridged' : 'macvlan', name: 'eth0', parent: name };
      return;
    }
  }
  const { getNetwork } = require('../client/networks') as typeof import('../client/networks');
  for (;;) {
    const network = { config: {} as Record<string, string>, description: '', name: '', type: '', project: 'default' };
    network.name = await e.ask.askString('What should the new bridge be called? [default=incusbr0]: ', 'incusbr0', interfaceNameProblem);
    if (await exists(() => getNetwork(e.client, network.name))) {
      e.out.write(`The requested network bridge "${network.name}" already exists. Please choose another name.\n`);
      continue;
    }
    devices.eth0 = { type: 'nic', name: 'eth0', network: network.name };
    for (const [family, check] of [
      ['4', ipv4AnswerProblem],
      ['6', ipv6AnswerProblem],
    ] as const) {
      const address = await e.ask.askString(`What IPv${family} address should be used? (CIDR subnet notation, “auto” or “none”) [default=auto]: `, 'auto', check);
      network.config[`ipv${family}.address`] = address;
      if (!['auto', 'none'].includes(address)) {
        const nat = await e.ask.askBool(`Would you like to NAT IPv${family} traffic on your bridge? [default=yes]: `, 'yes');
        network.config[`ipv${family}.nat`] = String(nat);
      }
    }
    config.networks.push(network);
    return;
  }
}

async function askDaemon(e: InitEnv, config: InitPreseedDoc, serverConfig: Record<string, string>): Promise<void> {
  if (runningInUserNS()) {
    e.out.write(
      "\nWe detected that you are running inside an unprivileged container.\nThis means that unless you manually configured your host otherwise,\nyou will not have enough uids and gids to allocate to your containers.\n\nYour container's own allocation can be reused to avoid the problem.\nDoing so makes your nested containers slightly less safe as they could\nin theory attack their parent container and gain more privileges than\nthey otherwise would.\n\n",
    );
    if (await e.ask.askBool(`Would you like to have your containers share their parent's allocation?${YES_NO('yes')}`, 'yes')) {
      config.profiles[0]!.config['security.privileged'] = 'true';
    }
  }
  if (await e.ask.askBool(`Would you like the server to be available over the network?${YES_NO('no')}`, 'no')) {
    let host = await e.ask.askString('Address to bind to (not including port) [default=all]: ', 'all', bindAddressProblem);
    if (host === 'all') host = '::';
    const { isIPv4 } = require('node:net') as typeof import('node:net');
    if (!isIPv4(host)) host = `[${host}]`;
    const port = await e.ask.askInt(`Port to bind to [default=${HTTPS_DEFAULT_PORT}]: `, 1, 65535, String(HTTPS_DEFAULT_PORT), async (p) => {
      const address = `${host}:${p}`;
      // An address the server already listens on is fine as it is.
      if (serverConfig['cluster.https_address'] === address || serverConfig['core.https_address'] === address) return null;
      const why = await bindProblem(host, p);
      return why === null ? null : `Can't bind address ${JSON.stringify(address)}: ${why}`;
    });
    config.config['core.https_address'] = `${host}:${port}`;
  }
  if (!(await e.ask.askBool(`Would you like stale cached images to be updated automatically?${YES_NO('yes')}`, 'yes'))) {
    config.config['images.auto_update_interval'] = '0';
  }
}
