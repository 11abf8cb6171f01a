/**
 * Device option checks shared by the device drivers: unknown keys and bad
 * values become a 400 naming the device and the key.
 */
import { StatusError, badRequest } from '../../errors';
import type { Validator } from '../config/validators';

export type DeviceRules = Record<string, Validator>;

/** A 400 about device `name`: `Invalid device "name": msg`. */
export function deviceError(name: string, msg: string): StatusError {
  return badRequest(`Invalid device "${name}": ${msg}`);
}

/** Rejects keys outside `rules` (user.* and type aside) and values a rule refuses. */
export function checkDeviceOptions(name: string, config: Record<string, string>, rules: DeviceRules): void {
  for (const [k, v] of Object.entries(config)) {
    if (k === 'type' || k.startsWith('user.')) continue;
    const rule = rules[k];
    if (!rule) throw deviceError(name, `Unknown key "${k}"`);
    if (typeof v !== 'string') throw deviceError(name, `Invalid value for "${k}": must be a string`);
    const why = rule(v);
    if (why) throw deviceError(name, `Invalid value for "${k}": ${why}`);
  }
}

/** An octal file mode such as `0660` (permission bits only). */
export const isOctalMode: Validator = (v) => (v === '' || /^0?[0-7]{1,4}$/.test(v) ? null : 'Invalid octal file mode');

/** A uid or gid: 0 to 2^32-2. */
export const isUnixId: Validator = (v) => (v === '' || (/^\d+$/.test(v) && Number(v) <= 0xfffffffe) ? null : 'Invalid user or group ID');

/** A device major or minor number. */
export const isDeviceNumber: Validator = (v) => (v === '' || (/^\d+$/.test(v) && Number(v) <= 0xfffff) ? null : 'Invalid device number');

/** An absolute path. */
export const isAbsPath: Validator = (v) => (v === '' || v.startsWith('/') ? null : 'Must be an absolute path');

/** Parses a mode written in octal, with a default for unset. */
export function octalMode(v: string | undefined, dflt: number): number {
  return v ? parseInt(v, 8) : dflt;
}
