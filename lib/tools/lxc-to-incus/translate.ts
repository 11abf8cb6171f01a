/**
 * LXC config → Incus instance config and devices, following Incus's
 * lxc-to-incus: the keys it accepts, what it turns them into, and what makes
 * it refuse a container. Beyond it, common cgroup limits become `limits.*`.
 * Every problem is collected (not just the first) so the whole list can be
 * shown before anything changes.
 */
import { type ConfigEntry, first, getConfig, rootfsOf } from './config';
import { type IdMapEntry, parseIdMap } from './idmap';

/** Keys accepted as they are (translated below or harmless), as Incus lists them. */
const CHECKED_KEYS = new Set([
  'lxc.aa_allow_incomplete', 'lxc.aa_profile', 'lxc.apparmor.allow_incomplete', 'lxc.apparmor.allow_nesting',
  'lxc.apparmor.profile', 'lxc.arch', 'lxc.autodev', 'lxc.cap.drop', 'lxc.environment', 'lxc.haltsignal',
  'lxc.id_map', 'lxc.idmap', 'lxc.include', 'lxc.loglevel', 'lxc.mount', 'lxc.mount.auto', 'lxc.mount.entry',
  'lxc.pts', 'lxc.pty.max', 'lxc.rebootsignal', 'lxc.rootfs', 'lxc.rootfs.backend', 'lxc.rootfs.mount',
  'lxc.rootfs.path', 'lxc.seccomp', 'lxc.seccomp.profile', 'lxc.signal.halt', 'lxc.signal.reboot', 'lxc.signal.stop',
  'lxc.start.auto', 'lxc.start.delay', 'lxc.start.order', 'lxc.stopsignal', 'lxc.tty', 'lxc.tty.max',
  'lxc.uts.name', 'lxc.utsname', 'incus.migrated',
]);

/** Prefixes Incus lets through (network translated; cgroups partly, below). */
const ALLOWED_PREFIXES = ['lxc.net.', 'lxc.network.', 'lxc.cgroup.', 'lxc.cgroup2.'];

/** Capabilities LXC's default config drops and Incus drops too. */
const DEFAULT_CAP_DROP = new Set(['mac_admin', 'mac_override', 'sys_module', 'sys_time']);

/** cgroup keys (v1 and v2 names) → Incus limit keys, with the value conversion. */
const CGROUP_LIMITS: Record<string, [string, (v: string) => string | undefined]> = {
  'lxc.cgroup.memory.limit_in_bytes': ['limits.memory', bytesToSize],
  'lxc.cgroup2.memory.max': ['limits.memory', bytesToSize],
  'lxc.cgroup.cpuset.cpus': ['limits.cpu', cpuSet],
  'lxc.cgroup2.cpuset.cpus': ['limits.cpu', cpuSet],
  'lxc.cgroup.pids.max': ['limits.processes', (v) => (/^\d+$/.test(v) ? v : undefined)],
  'lxc.cgroup2.pids.max': ['limits.processes', (v) => (/^\d+$/.test(v) ? v : undefined)],
};

/** `536870912` or `512M` → `512MiB`; undefined when not a size. */
export function bytesToSize(v: string): string | undefined {
  const m = /^(\d+)([KMGT]?)$/i.exec(v.trim());
  if (!m) return undefined;
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const n = Number(m[1]) * mult;
  for (const [unit, size] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}B`;
}

/** A cpuset as `limits.cpu` reads a set: a lone CPU `N` becomes `N-N` (a bare number would be a count). */
function cpuSet(v: string): string | undefined {
  if (!/^[\d,-]+$/.test(v)) return undefined;
  return /^\d+$/.test(v) ? `${v}-${v}` : v;
}

/** The result of translating one container's config. */
export interface Translation {
  config: Record<string, string>;
  devices: Record<string, Record<string, string>>;
  rootfs?: string;
  /** lxc.idmap entries (empty: privileged). */
  idmap: IdMapEntry[];
  /** Reasons the container cannot be imported, each naming the key. */
  problems: string[];
  /** Keys accepted but not carried over. */
  ignored: string[];
}

function isInt(v: string): boolean {
  return /^-?\d+$/.test(v);
}

function networkDevices(entries: ConfigEntry[], devices: Translation['devices'], problems: string[]): void {
  const nets = new Map<string, Record<string, string>>();
  for (const e of entries) {
    const m = /^lxc\.net\.(\d+)\.(.+)$/.exec(e.key);
    if (m) {
      const net = nets.get(m[1]!) ?? {};
      net[m[2]!] = e.value;
      nets.set(m[1]!, net);
    } else if (e.key.startsWith('lxc.network.')) {
      problems.push(`Legacy network key '${e.key}' isn't supported: convert the config with lxc-update-config first`);
    }
  }
  // The default profile's NIC must not come along on top of the container's own.
  devices.eth0 = { type: 'none' };
  for (const [i, net] of [...nets].sort(([a], [b]) => Number(a) - Number(b))) {
    const type = net.type ?? '';
    if (type === '' || type === 'empty' || type === 'none') continue;
    const dev: Record<string, string> = { type: 'nic', nictype: type };
    for (const [k, v] of Object.entries(net)) {
      if (k === 'hwaddr' || k === 'mtu' || k === 'name') dev[k] = v;
      else if (k === 'link') dev.parent = v;
      else if (k === 'veth_pair' || k === 'veth.pair') dev.host_name = v;
    }
    if (type === 'veth') dev.nictype = dev.parent ? 'bridged' : 'p2p';
    else if (type === 'phys') dev.nictype = 'physical';
    devices[`net${i}`] = dev;
  }
}

function mountDevices(
  entries: ConfigEntry[],
  rootfs: string | undefined,
  devices: Translation['devices'],
  problems: string[],
  ignored: string[],
  exists: (p: string) => boolean,
): void {
  let i = 0;
  for (const mount of getConfig(entries, 'lxc.mount.entry')) {
    const parts = mount.split(/\s+/);
    if (parts.length < 4) {
      problems.push(`Invalid mount configuration in 'lxc.mount.entry': ${mount}`);
      continue;
    }
    const [src, dst, , opts] = parts as [string, string, string, string];
    if (src === 'proc' || src === 'sysfs') continue;
    const options = opts.split(',');
    const dev: Record<string, string> = { type: 'disk' };
    if (options.includes('ro')) dev.readonly = 'true';
    // A filesystem mount (tmpfs, mqueue...) has no host path a disk device could take.
    if (!src.startsWith('/')) {
      ignored.push(`lxc.mount.entry = ${mount}`);
      continue;
    }
    if (options.includes('optional')) dev.required = 'false';
    else if (!exists(src)) {
      problems.push(`Invalid path in 'lxc.mount.entry': ${src}`);
      continue;
    }
    dev.source = src;
    dev.path = dst.startsWith('/') ? (rootfs && dst.startsWith(rootfs) ? dst.slice(rootfs.length) || '/' : dst) : `/${dst}`;
    devices[`mount${i++}`] = dev;
  }
}

/**
 * Translates `entries` for container `name`. `exists` checks host paths
 * (mount sources, rootfs).
 */
export function translate(name: string, entries: ConfigEntry[], exists: (p: string) => boolean): Translation {
  const problems: string[] = [];
  const ignored: string[] = [];
  const config: Record<string, string> = {};
  const devices: Translation['devices'] = {};

  for (const key of [...new Set(entries.map((e) => e.key).filter((k) => k.startsWith('lxc.')))].sort()) {
    if (CHECKED_KEYS.has(key)) continue;
    if (!ALLOWED_PREFIXES.some((p) => key.startsWith(p))) {
      problems.push(`Found unsupported config key '${key}'`);
      continue;
    }
    if (key.startsWith('lxc.cgroup')) {
      const conv = CGROUP_LIMITS[key];
      const value = first(entries, key) ?? '';
      const out = conv?.[1](value);
      if (conv && out !== undefined) config[conv[0]] = out;
      else ignored.push(key);
    }
  }

  if (getConfig(entries, 'incus.migrated').length) problems.push("Container has already been migrated ('incus.migrated')");
  const uts = first(entries, 'lxc.uts.name', 'lxc.utsname');
  if (uts !== name) problems.push(`Container name doesn't match 'lxc.uts.name' / 'lxc.utsname' (${uts ?? 'unset'})`);
  const incomplete = first(entries, 'lxc.apparmor.allow_incomplete', 'lxc.aa_allow_incomplete');
  if (incomplete !== undefined && incomplete !== '0') problems.push("Container allows incomplete AppArmor support ('lxc.apparmor.allow_incomplete')");
  const autodev = first(entries, 'lxc.autodev');
  if (autodev !== undefined && autodev !== '1') problems.push("Container doesn't mount a minimal /dev filesystem ('lxc.autodev')");
  const rootfs = rootfsOf(entries);
  if (!rootfs) problems.push("Invalid container, missing 'lxc.rootfs.path' key");
  else if (!exists(rootfs)) problems.push(`Couldn't find the container rootfs '${rootfs}' ('lxc.rootfs.path')`);

  const idmapLines = [...getConfig(entries, 'lxc.idmap'), ...getConfig(entries, 'lxc.id_map')];
  let idmap: IdMapEntry[] = [];
  try {
    idmap = idmapLines.map(parseIdMap);
  } catch (err) {
    problems.push(`${(err as Error).message} ('lxc.idmap')`);
  }
  config['security.privileged'] = idmapLines.length ? 'false' : 'true';

  networkDevices(entries, devices, problems);
  mountDevices(entries, rootfs, devices, problems, ignored, exists);

  for (const env of getConfig(entries, 'lxc.environment')) {
    const eq = env.indexOf('=');
    if (eq < 0) continue;
    config[`environment.${env.slice(0, eq).trim()}`] = env.slice(eq + 1).trim();
  }

  for (const [key, target] of [['lxc.start.auto', 'boot.autostart'], ['lxc.start.delay', 'boot.autostart.delay'], ['lxc.start.order', 'boot.autostart.priority']] as const) {
    const v = first(entries, key);
    if (v === undefined) continue;
    if (!isInt(v)) problems.push(`Invalid integer in '${key}': ${v}`);
    else if (Number(v) > 0) config[target] = key === 'lxc.start.auto' ? 'true' : v;
  }

  let rawLxc = '';
  const aa = first(entries, 'lxc.apparmor.profile', 'lxc.aa_profile');
  if (aa === 'lxc-container-default-with-nesting') config['security.nesting'] = 'true';
  else if (aa !== undefined && aa !== 'lxc-container-default') rawLxc += `lxc.apparmor.profile=${aa}\n`;

  const seccomp = first(entries, 'lxc.seccomp.profile', 'lxc.seccomp');
  if (seccomp !== undefined && seccomp !== '/usr/share/lxc/config/common.seccomp') problems.push("Custom seccomp profiles aren't supported ('lxc.seccomp.profile')");
  if (first(entries, 'lxc.selinux.context', 'lxc.se_context') !== undefined) problems.push("Custom SELinux policies aren't supported ('lxc.selinux.context')");
  for (const drop of getConfig(entries, 'lxc.cap.drop')) {
    const custom = drop.split(/\s+/).filter((c) => c && !DEFAULT_CAP_DROP.has(c));
    if (custom.length) problems.push(`Custom capabilities aren't supported ('lxc.cap.drop': ${custom.join(' ')})`);
  }
  if (getConfig(entries, 'lxc.cap.keep').length) problems.push("Custom capabilities aren't supported ('lxc.cap.keep')");

  const RAW: Record<string, string> = {
    'lxc.signal.halt': 'lxc.signal.halt', 'lxc.haltsignal': 'lxc.signal.halt',
    'lxc.signal.reboot': 'lxc.signal.reboot', 'lxc.rebootsignal': 'lxc.signal.reboot',
    'lxc.signal.stop': 'lxc.signal.stop', 'lxc.stopsignal': 'lxc.signal.stop',
    'lxc.apparmor.allow_incomplete': 'lxc.apparmor.allow_incomplete', 'lxc.aa_allow_incomplete': 'lxc.apparmor.allow_incomplete',
    'lxc.pty.max': 'lxc.pty.max', 'lxc.pts': 'lxc.pty.max',
    'lxc.tty.max': 'lxc.tty.max', 'lxc.tty': 'lxc.tty.max',
  };
  for (const e of entries) if (RAW[e.key]) rawLxc += `${RAW[e.key]}=${e.value}\n`;
  if (rawLxc) config['raw.lxc'] = rawLxc;

  return { config, devices, rootfs, idmap, problems, ignored };
}
