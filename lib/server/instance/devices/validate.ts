/** Validates a devices map (instance or profile) through each type's driver. */
import type { DevicesMap, InstanceType } from '../../../api/instance';
import { badRequest } from '../../errors';
import type { DaemonState } from '../../state';
import { deviceDriver } from './load';
import { networkInfo } from '../../network/load';
import { validateDeviceName } from '../../names';
import { customVolumeUsers } from '../../storage/volumes';

export function validateDevices(
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
): void {
  for (const [name, config] of Object.entries(devices ?? {})) {
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
      poolExists: (p) => s.db.pools.get(p) !== undefined,
      instanceType: opts.instanceType,
      customVolume:
        opts.volumeProject === undefined ? undefined : (pool, vol) => s.db.pools.volume(pool, opts.volumeProject!, 'custom', vol),
      otherVolumeUsers:
        opts.volumeProject === undefined || !opts.instance
          ? undefined
          : (pool, vol) => {
              const self = `/1.0/instances/${opts.instance!.name}${opts.instance!.project === 'default' ? '' : `?project=${opts.instance!.project}`}`;
              return customVolumeUsers(s.db, pool, opts.volumeProject!, vol).filter((u) => u.startsWith('/1.0/instances/') && u !== self);
            },
      network: (n) => {
        const net = s.db.networks.get('default', n);
        return net ? { nicType: networkInfo(net.type)?.nicType ?? '', config: net.config } : undefined;
      },
    });
  }
}
