/**
 * The instance config keys this server knows and how each is validated:
 * one table used everywhere (instances, profiles, PUT/PATCH, create).
 * `live` marks keys applied to a running container without a restart.
 */
import {
  type Validator,
  inRange,
  isAny,
  isBool,
  isCpuAllowance,
  isCpuLimit,
  isCronSchedule,
  isDuration,
  isEnvironmentValue,
  environmentNameProblem,
  isInt,
  isKernelModuleList,
  isRlimit,
  isSize,
  isSizeOrPercent,
  isSyscallList,
  isUint,
  oneOf,
} from './validators';
import { rawLxcProblem } from './raw-lxc';
import type { InstanceType } from '../../../api/instance';

export interface KeySpec {
  validate: Validator;
  /** For families: checks the key itself (the part after the prefix), null when fine. */
  checkKey?: (key: string) => string | null;
  /** Applied to a running instance at once (otherwise at next start). */
  live?: boolean;
  /** The one instance type the key applies to (Incus's container-only and VM-only tables); absent: both. */
  only?: InstanceType;
}

const k = (validate: Validator, live = false): KeySpec => ({ validate, live });
/** A container-only key. */
const ct = (validate: Validator, live = false): KeySpec => ({ validate, live, only: 'container' });
/** A VM-only key. */
const vm = (validate: Validator, live = false): KeySpec => ({ validate, live, only: 'virtual-machine' });

export const INSTANCE_KEYS: Record<string, KeySpec> = {
  'boot.autorestart': k(isBool),
  'boot.autostart': k(isBool, true),
  'boot.autostart.delay': k(isUint, true),
  'boot.autostart.priority': k(isInt, true),
  'boot.host_shutdown_timeout': k(isUint, true),
  'boot.stop.priority': k(isInt, true),

  'cluster.evacuate': k(oneOf('auto', 'migrate', 'live-migrate', 'refresh-migrate', 'stop', 'stateful-stop', 'force-stop')),

  'cloud-init.network-config': k(isAny),
  'cloud-init.user-data': k(isAny),
  'cloud-init.vendor-data': k(isAny),

  'limits.cpu': k(isCpuLimit, true),
  'limits.cpu.allowance': ct(isCpuAllowance, true),
  'limits.cpu.priority': ct(inRange(0, 10), true),
  'limits.cpu.nodes': k(isAny),
  'limits.disk.priority': k(inRange(0, 10), true),
  'limits.memory': k(isSizeOrPercent, true),
  'limits.memory.hugepages': vm(isBool),
  'limits.memory.enforce': ct(oneOf('hard', 'soft'), true),
  'limits.memory.swap': ct(isBool, true),
  'limits.memory.swap.priority': ct(inRange(0, 10), true),
  'limits.processes': ct(isUint, true),

  'linux.kernel_modules': ct(isKernelModuleList),

  'raw.apparmor': k(isAny),
  'raw.idmap': k(isAny),
  'raw.lxc': ct((v) => rawLxcProblem(v)),
  'raw.seccomp': ct(isAny),
  'raw.qemu': vm(isAny),
  'raw.qemu.conf': vm(isAny),

  'security.agent.metrics': vm(isBool),
  'security.csm': vm(isBool),
  'security.guestapi': k(isBool),
  'security.guestapi.images': k(isBool),
  'security.idmap.base': ct(isUint),
  'security.idmap.isolated': ct(isBool),
  'security.idmap.size': ct(isUint),
  'security.nesting': k(isBool),
  'security.privileged': ct(isBool),
  'security.protection.delete': k(isBool, true),
  'security.protection.shift': ct(isBool, true),
  'security.secureboot': vm(isBool),
  'security.syscalls.allow': ct(isSyscallList),
  'security.syscalls.deny': ct(isSyscallList),
  'security.syscalls.deny_default': ct(isBool),

  'snapshots.schedule': k(isCronSchedule, true),
  'snapshots.schedule.stopped': k(isBool, true),
  'snapshots.pattern': k(isAny, true),
  'snapshots.expiry': k(isDuration, true),
};

/** Namespaces whose keys are free-form (Incus allows any key under them). */
const FREE_PREFIXES = ['user.', 'volatile.', 'image.'];

const ENV_PREFIX = 'environment.';

/** Prefixed families with one validator for every member. */
const FAMILIES: [string, KeySpec][] = [
  ['limits.kernel.', ct(isRlimit)],
  ['linux.sysctl.', k(isAny)],
  ['limits.hugepages.', k(isSize)],
  // The name becomes a variable of every exec and of init (lxc.environment): one that
  // setenv() refuses would break both.
  [ENV_PREFIX, { validate: isEnvironmentValue, live: true, checkKey: (key) => environmentNameProblem(key.slice(ENV_PREFIX.length)) }],
];

/** The spec of key, 'free' for free-form namespaces, or undefined when unknown. */
export function keySpec(key: string): KeySpec | 'free' | undefined {
  const spec = INSTANCE_KEYS[key];
  if (spec) return spec;
  if (FREE_PREFIXES.some((p) => key.startsWith(p))) return 'free';
  for (const [prefix, s] of FAMILIES) if (key.startsWith(prefix) && (key.length > prefix.length || s.checkKey)) return s;
  return undefined;
}
