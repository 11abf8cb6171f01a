/** `disk` devices: the root disk (pool, path /) and, later, host path binds. */
import { badRequest } from '../../errors';
import type { DeviceDriver } from './interface';

const KEYS = new Set(['type', 'path', 'pool', 'source', 'readonly', 'required', 'shift', 'size', 'propagation', 'recursive', 'boot.priority']);

export const diskDevice: DeviceDriver = {
  type: 'disk',
  validate(name, config, ctx) {
    for (const k of Object.keys(config)) {
      if (!KEYS.has(k) && !k.startsWith('user.')) throw badRequest(`Invalid device "${name}": Unknown key "${k}"`);
    }
    if (!config.path) throw badRequest(`Invalid device "${name}": Missing "path"`);
    if (config.path === '/' && !config.source) {
      if (!config.pool) throw badRequest(`Invalid device "${name}": The root disk needs a "pool"`);
      if (!ctx.poolExists(config.pool)) throw badRequest(`Invalid device "${name}": Storage pool "${config.pool}" doesn't exist`);
      return;
    }
    if (!config.source) throw badRequest(`Invalid device "${name}": Missing "source"`);
  },
};
