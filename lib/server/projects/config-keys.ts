/**
 * Project config keys and their value checks, after Incus's
 * projectValidateConfig and projectValidateName (cmd/incusd/api_project.go):
 * features.*, limits.* (and limits.disk.pool.NAME for existing pools),
 * restricted.*, images.*, backups.*, user.*. Pure functions.
 */
import type { ConfigMap } from '../../api/instance';
import { isTrue } from '../instance/config-keys';
import { type Validator, inRange, isAny, isBool, isSize, oneOf } from '../instance/config/validators';
import { apiNameProblem } from '../names/api-name';
import { compressionError } from '../images/compression';

const isUint32 = inRange(0, 4294967295);
const allowOrBlock = oneOf('allow', 'block');
const allowBlockOrManaged = oneOf('allow', 'block', 'managed');
const listOf =
  (item: (v: string) => string | null): Validator =>
  (v) => {
    if (v === '') return null;
    for (const e of v.split(',').map((x) => x.trim())) {
      const why = item(e);
      if (why) return `Invalid list item "${e}": ${why}`;
    }
    return null;
  };
const absPath = (v: string): string | null => (v.startsWith('/') ? null : 'Must be an absolute path');
const uint32Range = (v: string): string | null => {
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (!m) return 'Must be a number or a range N-M';
  const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
  return a > 4294967295 || b > 4294967295 || b < a ? 'Invalid range' : null;
};
const compression: Validator = (v) => (v === '' ? null : compressionError(v));
const architecture = oneOf('x86_64', 'aarch64', 'armv7l', 'armv6l', 'i686', 'ppc64le', 's390x', 'riscv64');

export const PROJECT_KEYS: Record<string, Validator> = {
  'backups.compression_algorithm': compression,
  'features.images': isBool,
  'features.profiles': isBool,
  'features.storage.volumes': isBool,
  'features.storage.buckets': isBool,
  'features.networks': isBool,
  'features.networks.zones': isBool,
  'images.auto_update_cached': isBool,
  'images.auto_update_interval': inRange(-9007199254740991, 9007199254740991),
  'images.compression_algorithm': compression,
  'images.default_architecture': architecture,
  'images.remote_cache_expiry': inRange(-9007199254740991, 9007199254740991),
  'limits.instances': isUint32,
  'limits.containers': isUint32,
  'limits.virtual-machines': isUint32,
  'limits.memory': isSize,
  'limits.processes': isUint32,
  'limits.cpu': isUint32,
  'limits.disk': isSize,
  'limits.networks': isUint32,
  restricted: isBool,
  'restricted.backups': allowOrBlock,
  'restricted.cluster.groups': listOf(() => null),
  'restricted.cluster.target': allowOrBlock,
  'restricted.containers.interception': oneOf('allow', 'block', 'full'),
  'restricted.containers.nesting': allowOrBlock,
  'restricted.containers.lowlevel': allowOrBlock,
  'restricted.containers.privilege': oneOf('allow', 'unprivileged', 'isolated'),
  'restricted.virtual-machines.lowlevel': allowOrBlock,
  'restricted.virtual-machines.nesting': allowOrBlock,
  'restricted.devices.unix-char': allowOrBlock,
  'restricted.devices.unix-block': allowOrBlock,
  'restricted.devices.unix-hotplug': allowOrBlock,
  'restricted.devices.infiniband': allowOrBlock,
  'restricted.devices.gpu': allowOrBlock,
  'restricted.devices.usb': allowOrBlock,
  'restricted.devices.pci': allowOrBlock,
  'restricted.devices.proxy': allowOrBlock,
  'restricted.devices.nic': allowBlockOrManaged,
  'restricted.devices.disk': allowBlockOrManaged,
  'restricted.devices.disk.paths': listOf(absPath),
  'restricted.idmap.uid': listOf(uint32Range),
  'restricted.idmap.gid': listOf(uint32Range),
  'restricted.images.servers': isAny,
  'restricted.networks.access': isAny,
  'restricted.networks.integrations': isAny,
  'restricted.networks.uplinks': isAny,
  'restricted.networks.subnets': isAny,
  'restricted.networks.zones': isAny,
  'restricted.snapshots': allowOrBlock,
  'restricted.storage-pools.access': isAny,
};

const POOL_LIMIT = 'limits.disk.pool.';

/**
 * The problem with a project's config, Incus-worded, or null. `pools` names
 * the storage pools (limits.disk.pool.NAME exists for those only).
 */
export function projectConfigProblem(config: ConfigMap, pools: readonly string[]): string | null {
  for (const [k, v] of Object.entries(config)) {
    if (k.startsWith('user.')) continue;
    const check = PROJECT_KEYS[k] ?? (k.startsWith(POOL_LIMIT) && pools.includes(k.slice(POOL_LIMIT.length)) ? isSize : undefined);
    if (!check) return `Invalid project configuration key "${k}"`;
    if (typeof v !== 'string') return `Invalid project configuration key "${k}" value: must be a string`;
    const why = check(v);
    if (why) return `Invalid project configuration key "${k}" value: ${why}`;
  }
  // Profiles from default would bypass the restrictions (never checked against this project).
  if (isTrue(config.restricted) && config['features.profiles'] !== undefined && !isTrue(config['features.profiles'])) {
    return 'Projects without their own profiles cannot be restricted';
  }
  return null;
}

/** The problem with a project name (Incus: IsAPIName, then projectValidateName), or null. */
export function projectNameProblem(name: string): string | null {
  const why = apiNameProblem(name);
  if (why) return `Invalid project name: ${why}`;
  if (name.includes('_')) return 'Project names may not contain underscores';
  if (name.includes("'") || name.includes('"')) return 'Project names may not contain quotes';
  if (name === '*') return 'Reserved project name';
  if (name === '.' || name === '..') return `Invalid project name "${name}"`;
  return null;
}
