/** Validates a devices map (instance or profile) through each type's driver. */
import type { DevicesMap, InstanceType } from '../../../api/instance';
import { StatusError, badRequest, statusOf } from '../../errors';
import type { DaemonState } from '../../state';
import { deviceDriver } from './load';
import { networkInfo } from '../../network/load';
import { validateDeviceName } from '../../names';
import { customVolumeUsers } from '../../storage/volumes';
import { splitVolumeSource } from './volume-subpath';
import { deviceError } from './options';
import type { StaticHost } from '../../network/interface';
import { networkStatics, nicNetworkName } from '../../network/used-by';

/**
 * Validates every device; what the drivers may look up (pools, networks,
 * the custom volumes disk devices name and their other users) is read
 * first, so that the drivers' checks stay synchronous.
 */
export async function validateDevices(
  s: Pick<DaemonState, 'db'>,
  devices: DevicesMap,
  opts: {
    profile: boolean;
    instanceType?: InstanceType;
    supported?: readonly string[];
    /** The project holding the instance's custom volumes (features.storage.volumes): disk devices are checked against them. */
    volumeProject?: string;
    /** The instance being validated (its own use of a volume is not another's). */
    instance?: { project: string; name: string };
  },
): Promise<void> {
  const entries = Object.entries(devices ?? {});
  if (entries.length === 0) return;
  const pools = new Set((await s.db.pools.list()).map((p) => p.name));
  const networks = new Map((await s.db.networks.list('default')).map((n) => [n.name, n]));
  const volumes = new Map<string, { contentType: string; config: Record<string, string> } | undefined>();
  const users = new Map<string, string[]>();
  const self = opts.instance ? `/1.0/instances/${opts.instance.name}${opts.instance.project === 'default' ? '' : `?project=${opts.instance.project}`}` : '';
  if (opts.volumeProject !== undefined) {
    for (const [, d] of entries) {
      if (!d || d.type !== 'disk' || !d.pool || !d.source) continue;
      // `<volume>/<sub-path>` names the volume before the first "/".
      const volume = splitVolumeSource(d.source).volume;
      const key = `${d.pool}/${volume}`;
      if (volumes.has(key)) continue;
      volumes.set(key, await s.db.pools.volume(d.pool, opts.volumeProject, 'custom', volume));
      if (opts.instance) {
        const all = await customVolumeUsers(s.db, d.pool, opts.volumeProject, volume);
        users.set(key, all.filter((u) => u.startsWith('/1.0/instances/') && u !== self));
      }
    }
  }
  // The NICs already on each network a NIC here joins (clash checks need the stored instances).
  const nics = new Map<string, StaticHost[]>();
  if (opts.instance) {
    for (const [, d] of entries) {
      const net = d && typeof d === 'object' ? nicNetworkName(d) : null;
      if (net && networks.has(net) && !nics.has(net)) nics.set(net, await networkStatics(s.db, net));
    }
  }
  // Proxies may not listen where a network forward does.
  const hasProxy = entries.some(([, d]) => d && typeof d === 'object' && d.type === 'proxy');
  const forwardListenAddresses = hasProxy ? (await s.db.networkForwards.all()).map((f) => f.listenAddress) : [];
  for (const [name, config] of entries) {
    validateDeviceName(name);
    if (!config || typeof config !== 'object') throw badRequest(`Invalid device "${name}": not a map`);
    if (!config.type) throw badRequest(`Invalid device "${name}": Missing device type`);
    const d = deviceDriver(config.type);
    if (!d) throw badRequest(`Invalid device "${name}": Unsupported device type "${config.type}"`);
    if (opts.supported && !opts.supported.includes(config.type)) {
      const what = opts.instanceType === 'virtual-machine' ? 'virtual machines' : 'containers';
      throw badRequest(`Invalid device "${name}": Unsupported device type "${config.type}" for ${what}`);
    }
    d.validate(name, config, {
      profile: opts.profile,
      poolExists: (p) => pools.has(p),
      instanceType: opts.instanceType,
      customVolume: opts.volumeProject === undefined ? undefined : (pool, vol) => volumes.get(`${pool}/${vol}`),
      otherVolumeUsers: opts.volumeProject === undefined || !opts.instance ? undefined : (pool, vol) => users.get(`${pool}/${vol}`) ?? [],
      instance: opts.instance,
      networkNics: opts.instance ? (n) => nics.get(n) ?? [] : undefined,
      forwardListenAddresses,
      network: (n) => {
        const net = networks.get(n);
        return net ? { nicType: networkInfo(net.type)?.nicType ?? '', config: net.config } : undefined;
      },
    });
  }
  checkDiskPaths(entries);
}

/** As Incus: two disk devices of one map cannot mount at the same path (names aside). */
function checkDiskPaths(entries: readonly [string, Record<string, string>][]): void {
  const seen = new Set<string>();
  for (const [name, d] of entries) {
    if (d.type !== 'disk' || !d.path) continue;
    if (seen.has(d.path)) throw deviceError(name, `More than one disk device uses the same path "${d.path}"`);
    seen.add(d.path);
  }
}

/**
 * The checks a start repeats on the instance's NICs (Incus validates its
 * devices as it loads them to start): what changed around the instance
 * since its NICs were set, such as another NIC now holding their address.
 */
export async function validateNicsForStart(
  s: Pick<DaemonState, 'db'>,
  inst: { project: string; name: string; type: InstanceType },
  devices: DevicesMap,
): Promise<void> {
  for (const [name, d] of Object.entries(devices ?? {})) {
    if (d?.type !== 'nic') continue;
    try {
      await validateDevices(s, { [name]: d }, { profile: false, instanceType: inst.type, instance: { project: inst.project, name: inst.name } });
    } catch (err) {
      const msg = (err as Error).message.replace(/^Invalid device "[^"]*": /, '');
      throw new StatusError(statusOf(err), `Failed start validation for device "${name}": ${msg}`);
    }
  }
}
