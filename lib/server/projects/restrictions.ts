/**
 * Restricted projects (`restricted=true` and restricted.*), after Incus's
 * checkRestrictions in internal/server/project/permissions.go: what the
 * project's expanded instances and its profiles may set (privilege,
 * nesting, syscall interception, low-level keys, raw.idmap host ids) and
 * which devices they may carry. Unset restricted.* keys take Incus's
 * defaults. Pure functions; a breach throws a {@link ProjectRuleError}
 * worded as Incus words it.
 */
import type { ConfigMap, DevicesMap } from '../../api/instance';
import { isTrue } from '../instance/config-keys';
import { type IdmapEntry, parseRawIdmap } from '../instance/idmap-alloc';
import { POOL_LIMIT_PREFIX } from './limits';
import type { InstanceEntity, ProfileEntity } from './project-info';
import { ProjectRuleError } from './rule-error';
import { cleanPath } from '../../api/paths';

/** Every restricted.* key with its value when a restricted project leaves it unset (Incus's allRestrictions). */
export const RESTRICTION_DEFAULTS: Readonly<Record<string, string>> = {
  'restricted.backups': 'block',
  'restricted.cluster.groups': '',
  'restricted.cluster.target': 'block',
  'restricted.containers.nesting': 'block',
  'restricted.containers.interception': 'block',
  'restricted.containers.lowlevel': 'block',
  'restricted.containers.privilege': 'unprivileged',
  'restricted.virtual-machines.lowlevel': 'block',
  'restricted.virtual-machines.nesting': 'allow',
  'restricted.devices.unix-char': 'block',
  'restricted.devices.unix-block': 'block',
  'restricted.devices.unix-hotplug': 'block',
  'restricted.devices.infiniband': 'block',
  'restricted.devices.gpu': 'block',
  'restricted.devices.usb': 'block',
  'restricted.devices.pci': 'block',
  'restricted.devices.proxy': 'block',
  'restricted.devices.nic': 'managed',
  'restricted.devices.disk': 'managed',
  'restricted.devices.disk.paths': '',
  'restricted.idmap.uid': '',
  'restricted.idmap.gid': '',
  'restricted.images.servers': '',
  'restricted.networks.access': '',
  'restricted.snapshots': 'block',
  'restricted.storage-pools.access': '',
};

/** Interception keys a project may allow with restricted.containers.interception. */
const ALLOWABLE_INTERCEPT = [
  'security.syscalls.intercept.bpf',
  'security.syscalls.intercept.bpf.devices',
  'security.syscalls.intercept.mknod',
  'security.syscalls.intercept.mount',
  'security.syscalls.intercept.mount.fuse',
  'security.syscalls.intercept.setxattr',
  'security.syscalls.intercept.sysinfo',
];

const CONTAINER_LOWLEVEL = new Set([
  'boot.host_shutdown_action',
  'boot.host_shutdown_timeout',
  'linux.kernel_modules',
  'limits.memory.swap',
  'limits.memory.oom_priority',
  'raw.apparmor',
  'raw.idmap',
  'raw.lxc',
  'raw.seccomp',
  'security.guestapi.images',
  'security.idmap.base',
  'security.idmap.size',
  'security.selinux.domain',
  'security.selinux.label_rootfs',
  'security.selinux.level',
  'security.selinux.type',
]);

const VM_LOWLEVEL = new Set([
  'boot.host_shutdown_action',
  'boot.host_shutdown_timeout',
  'limits.memory.hugepages',
  'limits.memory.oom_priority',
  'raw.apparmor',
  'raw.idmap',
  'raw.qemu',
  'raw.qemu.conf',
  'raw.qemu.qmp.early',
  'raw.qemu.qmp.post-start',
  'raw.qemu.qmp.pre-start',
  'raw.qemu.scriptlet',
  'security.selinux.domain',
  'security.selinux.label_rootfs',
  'security.selinux.level',
  'security.selinux.type',
]);

/** Device types a restriction allows or blocks as a whole, and Incus's refusal for each. */
const ALLOW_OR_BLOCK_DEVICES: Record<string, string> = {
  'unix-char': 'Unix character devices are forbidden',
  'unix-block': 'Unix block devices are forbidden',
  'unix-hotplug': 'Unix hotplug devices are forbidden',
  infiniband: 'Infiniband devices are forbidden',
  gpu: 'GPU devices are forbidden',
  usb: 'USB devices are forbidden',
  pci: 'PCI devices are forbidden',
  proxy: 'Proxy devices are forbidden',
};

const isFalse = (v: string | undefined): boolean => v !== undefined && ['false', '0', 'no', 'off'].includes(v.toLowerCase());
const isFalseOrEmpty = (v: string | undefined): boolean => !v || isFalse(v);
const splitList = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** A restriction's effective value: the project's, or Incus's default. */
export function restriction(config: ConfigMap, key: string): string {
  return config[key] ?? RESTRICTION_DEFAULTS[key] ?? '';
}

/** Whether the project may use the pool (Incus's StoragePoolAllowed). */
export function storagePoolAllowed(config: ConfigMap, pool: string): boolean {
  if (config[POOL_LIMIT_PREFIX + pool] === '0') return false;
  if (isFalseOrEmpty(config.restricted)) return true;
  const allowed = config['restricted.storage-pools.access'];
  return !allowed || splitList(allowed).includes(pool);
}

/** Whether the project may attach to the network (Incus's NetworkAllowed); `managed`: a managed network rather than a host parent. */
export function networkAllowed(config: ConfigMap, network: string, managed: boolean): boolean {
  if (isFalseOrEmpty(config.restricted)) return true;
  const nic = config['restricted.devices.nic'];
  if (nic === 'block') return false;
  if ((nic === undefined || nic === '' || nic === 'managed') && !managed) return false;
  if (managed && isTrue(config['features.networks'])) return true;
  const access = config['restricted.networks.access'];
  return !access || splitList(access).includes(network);
}

/** Whether a host path may be a disk's source (Incus's CheckRestrictedDevicesDiskPaths): under one of restricted.devices.disk.paths, or any when unset. */
export function diskPathAllowed(config: ConfigMap, source: string): boolean {
  const paths = config['restricted.devices.disk.paths'];
  if (!paths) return true;
  const clean = (p: string): string => `${cleanPath(p)}/`;
  const src = clean(source);
  return paths.split(',').some((p) => src.startsWith(clean(p.trim())));
}

/** Host id ranges (`N` or `N-M`, comma separated) a restricted project's raw.idmap may map. */
export function parseHostIdRanges(value: string, kind: 'uid' | 'gid'): IdmapEntry[] {
  return splitList(value).map((item) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item);
    const [a, b] = m ? [Number(m[1]), Number(m[2] ?? m[1])] : [NaN, NaN];
    if (!m || b < a || b > 4294967295) throw new ProjectRuleError(`Failed parsing "restricted.idmap.${kind}": Invalid range "${item}"`);
    return { isUid: kind === 'uid', isGid: kind === 'gid', hostId: a, nsId: -1, range: b - a + 1 };
  });
}

/** Whether an entry's host ids lie inside the allowed ranges for each of its kinds (Incus's HostIDsCoveredBy). */
export function hostIdsCoveredBy(e: IdmapEntry, uids: readonly IdmapEntry[], gids: readonly IdmapEntry[]): boolean {
  if (!e.isUid && !e.isGid) return false;
  const inside = (allowed: readonly IdmapEntry[]): boolean => allowed.some((a) => e.hostId >= a.hostId && e.hostId + e.range <= a.hostId + a.range);
  const uidOk = e.isUid && inside(uids.filter((a) => a.isUid));
  const gidOk = e.isGid && inside(gids.filter((a) => a.isGid));
  return e.isUid === uidOk && e.isGid === gidOk;
}

type DeviceCheck = (device: Record<string, string>) => string | null;

/** Per-type device checks for the project's restrictions. */
function deviceChecks(config: ConfigMap): Record<string, DeviceCheck> {
  const checks: Record<string, DeviceCheck> = {};
  for (const [type, refusal] of Object.entries(ALLOW_OR_BLOCK_DEVICES)) {
    const value = restriction(config, `restricted.devices.${type}`);
    checks[type] = () => (value !== 'allow' ? refusal : null);
  }
  const nic = restriction(config, 'restricted.devices.nic');
  checks.nic = (d) => {
    if (nic === 'block') return 'Network devices are forbidden';
    if (nic === 'managed' && !d.network) return 'Only managed network devices are allowed';
    if (d.network) return networkAllowed(config, d.network, true) ? null : 'Network not allowed in project';
    if (d.parent) return networkAllowed(config, d.parent, false) ? null : 'Network not allowed in project';
    return null;
  };
  const disk = restriction(config, 'restricted.devices.disk');
  checks.disk = (d) => {
    const pool = d.pool ?? '';
    // The root disk is always allowed, on a pool the project may use.
    if (d.path === '/' && pool !== '') return storagePoolAllowed(config, pool) ? null : `Storage pool "${pool}" is not accessible from this project`;
    if (!d.path && (d.source === 'cloud-init:config' || d.source === 'agent:config')) return null;
    if (disk === 'block') return 'Disk devices are forbidden';
    if (disk === 'managed' && pool === '') return 'Attaching disks not backed by a pool is forbidden';
    if (disk === 'allow' && pool === '' && !diskPathAllowed(config, d.source ?? '')) return `Disk source path "${d.source ?? ''}" not allowed`;
    if (pool !== '' && !storagePoolAllowed(config, pool)) return `Storage pool "${pool}" is not accessible from this project`;
    return null;
  };
  return checks;
}

/** What one entity (an expanded instance, or a profile) is, for messages and for which checks apply. */
interface Entity {
  kind: 'container' | 'virtual-machine' | 'profile';
  name: string;
  config: ConfigMap;
  devices: DevicesMap;
}

/**
 * Refuses what a restricted project does not allow on any of the given
 * expanded instances and profiles. `project` is the project's name and
 * `config` its (new) config; call only when `restricted` is true.
 */
export function checkRestrictions(project: string, config: ConfigMap, instances: readonly InstanceEntity[], profiles: readonly ProfileEntity[]): void {
  const r = (key: string): string => restriction(config, key);
  const allowContainerLowLevel = r('restricted.containers.lowlevel') === 'allow';
  const allowVmLowLevel = r('restricted.virtual-machines.lowlevel') === 'allow';
  const blockVmNesting = r('restricted.virtual-machines.nesting') === 'block';
  const privilege = r('restricted.containers.privilege');
  const requireIsolated = privilege === 'isolated';
  const interception = r('restricted.containers.interception');
  const uids = parseHostIdRanges(r('restricted.idmap.uid'), 'uid');
  const gids = parseHostIdRanges(r('restricted.idmap.gid'), 'gid');

  const containerChecks: Record<string, (v: string) => string | null> = {
    'security.nesting': (v) => (r('restricted.containers.nesting') === 'block' && isTrue(v) ? 'Container nesting is forbidden' : null),
    'security.privileged': (v) => (privilege !== 'allow' && isTrue(v) ? 'Privileged containers are forbidden' : null),
    'security.idmap.isolated': (v) => (requireIsolated && isFalseOrEmpty(v) ? 'Non-isolated containers are forbidden' : null),
  };
  for (const key of ALLOWABLE_INTERCEPT) {
    containerChecks[key] = (v) => (interception !== 'allow' && !isFalseOrEmpty(v) ? 'Container syscall interception is forbidden' : null);
  }
  const devices = deviceChecks(config);
  const where = (e: Entity): string => `on ${e.kind} "${e.name}" of project "${project}"`;

  const checkConfig = (e: Entity): void => {
    const containerOrProfile = e.kind !== 'virtual-machine';
    const vmOrProfile = e.kind !== 'container';
    // VM nesting is on unless said otherwise; isolation is off unless said otherwise.
    if (blockVmNesting && e.kind === 'virtual-machine' && !isFalse(e.config['security.nesting'])) {
      throw new ProjectRuleError(`Virtual machine nesting is forbidden ${where(e)} ("security.nesting" must be set to "false")`);
    }
    if (requireIsolated && e.kind === 'container' && isFalseOrEmpty(e.config['security.idmap.isolated'])) {
      throw new ProjectRuleError(`Non-isolated containers are forbidden ${where(e)} ("security.idmap.isolated" must be set to "true")`);
    }
    for (const [key, value] of Object.entries(e.config)) {
      if (key === 'raw.idmap' && ((containerOrProfile && !allowContainerLowLevel) || (vmOrProfile && !allowVmLowLevel))) {
        let entries: IdmapEntry[];
        try {
          entries = parseRawIdmap(value);
        } catch (err) {
          throw new ProjectRuleError((err as Error).message);
        }
        entries.forEach((entry, i) => {
          if (!hostIdsCoveredBy(entry, uids, gids)) throw new ProjectRuleError(`Use of low-level "raw.idmap" element ${i} ${where(e)} is forbidden`);
        });
        continue;
      }
      const lowLevel =
        (containerOrProfile && !allowContainerLowLevel && isContainerLowLevel(key)) || (vmOrProfile && !allowVmLowLevel && VM_LOWLEVEL.has(key));
      if (lowLevel) throw new ProjectRuleError(`Use of low-level config "${key}" ${where(e)} is forbidden`);
      const check = containerOrProfile ? containerChecks[key] : undefined;
      const why = check?.(value);
      if (why) throw new ProjectRuleError(`Invalid value "${value}" for config "${key}" ${where(e)}: ${why}`);
    }
  };

  const checkDevices = (e: Entity): void => {
    for (const [name, device] of Object.entries(e.devices)) {
      const why = devices[device.type ?? '']?.(device);
      if (why) throw new ProjectRuleError(`Invalid device "${name}" ${where(e)}: ${why}`);
    }
  };

  for (const i of instances) {
    const e: Entity = { kind: i.type === 'virtual-machine' ? 'virtual-machine' : 'container', name: i.name, config: i.config, devices: i.devices };
    checkConfig(e);
    checkDevices(e);
  }
  for (const p of profiles) {
    const e: Entity = { kind: 'profile', name: p.name, config: p.config, devices: p.devices };
    checkConfig(e);
    checkDevices(e);
  }
}

function isContainerLowLevel(key: string): boolean {
  if (key.startsWith('security.syscalls.intercept') && !ALLOWABLE_INTERCEPT.includes(key)) return true;
  return key.startsWith('security.bpffs') || CONTAINER_LOWLEVEL.has(key);
}

/** Whether a restricted project sets `key` (or leaves it at its default) to `blocked` (Incus's projectHasRestriction). */
export function hasRestriction(config: ConfigMap, key: string, blocked: string): boolean {
  return !isFalseOrEmpty(config.restricted) && restriction(config, key) === blocked;
}

/** Incus's AllowSnapshotCreation refusal, or null. */
export function snapshotCreationProblem(project: string, config: ConfigMap): string | null {
  return hasRestriction(config, 'restricted.snapshots', 'block') ? `Project "${project}" doesn't allow for snapshot creation` : null;
}

/** Incus's AllowBackupCreation refusal, or null. */
export function backupCreationProblem(project: string, config: ConfigMap): string | null {
  return hasRestriction(config, 'restricted.backups', 'block') ? `Project "${project}" doesn't allow for backup creation` : null;
}

/** Volatile keys a user may set even where low-level config is restricted (Incus's isSafeKey). */
function safeVolatileKey(key: string): boolean {
  if (['volatile.apply_template', 'volatile.base_image', 'volatile.last_state.power', 'volatile.selinux.context'].includes(key)) return true;
  return key.endsWith('.apply_quota') || key.endsWith('.hwaddr');
}

/**
 * Incus's checkRestrictionsOnVolatileConfig, for a project with limits or
 * restrictions: unless restricted.containers.lowlevel (or
 * .virtual-machines.lowlevel) is allow, a volatile key other than the safe
 * ones may not be set or changed. Returns the problem, or null.
 */
export function volatileConfigProblem(
  project: { name: string; config: ConfigMap },
  inst: { name: string; type: string },
  wanted: ConfigMap,
  current: ConfigMap,
): string | null {
  const lowLevel = inst.type === 'virtual-machine' ? 'restricted.virtual-machines.lowlevel' : 'restricted.containers.lowlevel';
  if (project.config[lowLevel] === 'allow') return null;
  for (const [key, value] of Object.entries(wanted)) {
    if (!key.startsWith('volatile.') || safeVolatileKey(key)) continue;
    if (!(key in current)) return `Setting "${key}" on ${inst.type} "${inst.name}" in project "${project.name}" is forbidden`;
    if (current[key] !== value) return `Changing "${key}" on ${inst.type} "${inst.name}" in project "${project.name}" is forbidden`;
  }
  return null;
}
