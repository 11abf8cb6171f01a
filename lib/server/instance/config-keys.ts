/**
 * Instance config validation driven by the key table (config/keys.ts):
 * unknown keys are refused except the free-form namespaces Incus allows.
 */
import { badRequest } from '../errors';
import { keySpec } from './config/keys';
import type { InstanceType } from '../../api/instance';

/** Throws a 400 naming the first invalid key of config and why. */
export function validateInstanceConfig(config: Record<string, unknown>, type?: InstanceType): void {
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'string') throw badRequest(`Invalid config: key "${key}" must have a string value`);
    const spec = keySpec(key);
    if (spec === undefined) throw badRequest(`Invalid config: Unknown configuration key: ${key}`);
    if (spec === 'free') continue;
    // Incus looks VM-only keys up only for VMs (and container-only ones only for containers).
    if (type && spec.only && spec.only !== type) {
      throw badRequest(`Invalid config: Unknown configuration key: ${key} (only for ${spec.only === 'container' ? 'containers' : 'virtual machines'})`);
    }
    const badKey = spec.checkKey?.(key);
    if (badKey) throw badRequest(`Invalid config: Invalid key ${JSON.stringify(key)}: ${badKey}`);
    const why = spec.validate(value);
    if (why) throw badRequest(`Invalid config: Invalid value for "${key}": ${why} ("${value}")`);
  }
}

/** Incus's boolean parsing. */
export function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes', 'on'].includes(v.toLowerCase());
}

/** Incus's util.IsFalse: an explicit false ("" and unset are not). */
export function isFalse(v: string | undefined): boolean {
  return v !== undefined && ['false', '0', 'no', 'off'].includes(v.toLowerCase());
}
