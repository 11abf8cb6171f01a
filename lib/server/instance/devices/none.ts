/** `none` devices: mask a device of the same name inherited from a profile. */
import { badRequest } from '../../errors';
import type { DeviceDriver } from './interface';

export const noneDevice: DeviceDriver = {
  type: 'none',
  validate(name, config) {
    for (const k of Object.keys(config)) {
      if (k !== 'type') throw badRequest(`Invalid device "${name}": Unknown key "${k}" for a "none" device`);
    }
  },
};
