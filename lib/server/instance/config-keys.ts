/**
 * The table of instance config keys this server knows, with typed
 * validators; unknown keys are refused except the free-form namespaces
 * Incus allows. Issue 03 grows the table; the mechanism lives here.
 */
import { badRequest } from '../errors';

type Validator = (value: string) => string | null;

const isBool: Validator = (v) => (['true', 'false', '1', '0', 'yes', 'no', 'on', 'off', ''].includes(v.toLowerCase()) ? null : 'Invalid value for a boolean');
const isAny: Validator = () => null;

const KEYS: Record<string, Validator> = {
  'security.privileged': isBool,
  'security.nesting': isBool,
  'security.protection.delete': isBool,
  'boot.autostart': isBool,
  'boot.autostart.delay': isAny,
  'boot.autostart.priority': isAny,
  'boot.host_shutdown_timeout': isAny,
  'boot.stop.priority': isAny,
  'image.architecture': isAny,
  'image.description': isAny,
  'image.os': isAny,
  'image.release': isAny,
  'image.name': isAny,
  'image.serial': isAny,
  'image.type': isAny,
  'image.variant': isAny,
};

const FREE_PREFIXES = ['user.', 'environment.', 'volatile.', 'image.'];

/** Throws a 400 naming the first invalid key of config. */
export function validateInstanceConfig(config: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(config)) {
    if (typeof value !== 'string') throw badRequest(`Invalid config: key "${key}" must have a string value`);
    const check = KEYS[key];
    if (check) {
      const why = check(value);
      if (why) throw badRequest(`Invalid config: ${why} "${value}" for key "${key}"`);
      continue;
    }
    if (FREE_PREFIXES.some((p) => key.startsWith(p))) continue;
    throw badRequest(`Invalid config: Unknown configuration key: ${key}`);
  }
}

/** Incus's boolean parsing. */
export function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['true', '1', 'yes', 'on'].includes(v.toLowerCase());
}
