/**
 * Renders the liblxc configuration of a container from its expanded
 * config: the same base Incus uses (mounts, caps, ptys), the id map for
 * unprivileged containers, cgroup limits, rlimits, seccomp, and raw.lxc
 * last so that users can override the rest.
 */
import { existsSync, statSync } from 'node:fs';
import type { InstanceRuntime } from '../../interface';
import { isFalse, isTrue } from '../../config-keys';
import { fstabEscape } from '../../devices/paths';
import { lxcCgroupLines, lxcIdmapLines } from './config-lines';
import type { CgroupSetting } from '../../limits/cgroup-limits';
import { parseRawLxc } from '../../config/raw-lxc';

export interface LxcConfigInput {
  inst: InstanceRuntime;
  logFile: string;
  consoleLogFile: string;
  debug: boolean;
  cgroup: CgroupSetting[];
  /** cpuset.cpus when limits.cpu pins the container. */
  cpuset: string | null;
  /** Path of the seccomp profile file, when there is a policy. */
  seccompProfile: string | null;
  /** cgroup version of the cpuset controller, for its config key. */
  cpusetVersion: 0 | 1 | 2;
  /** Extra liblxc lines: lxcfs mounts, devices. */
  extra: string[];
  /** The host directory holding the guest API socket, mounted at /dev/incus unless security.guestapi is false. */
  guestApiDir: string;
}

/** Host paths bind-mounted when present, as Incus does. */
const OPTIONAL_BINDS = [
  '/dev/fuse',
  '/dev/net/tun',
  '/sys/fs/fuse/connections',
  '/sys/fs/pstore',
  '/sys/kernel/config',
  '/sys/kernel/debug',
  '/sys/kernel/security',
  '/sys/kernel/tracing',
];

/** limits.kernel.<name> to liblxc's lxc.prlimit.<name>. */
function prlimitLines(config: Record<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (!k.startsWith('limits.kernel.') || v === '') continue;
    out.push(`lxc.prlimit.${k.slice('limits.kernel.'.length)} = ${v}`);
  }
  return out;
}

export function renderLxcConfig(input: LxcConfigInput): string {
  const { inst } = input;
  const cfg = inst.expandedConfig;
  const privileged = isTrue(cfg['security.privileged']);
  const nesting = isTrue(cfg['security.nesting']);
  const lines: string[] = [];
  const set = (k: string, v: string): void => {
    lines.push(`${k} = ${v}`);
  };

  set('lxc.uts.name', inst.name);
  set('lxc.arch', 'linux64');
  set('lxc.log.file', input.logFile);
  set('lxc.log.level', input.debug ? 'info' : 'warn');
  set('lxc.console.buffer.size', 'auto');
  set('lxc.console.size', 'auto');
  set('lxc.console.logfile', input.consoleLogFile);
  set('lxc.tty.max', '0');
  set('lxc.pty.max', '1024');
  set('lxc.autodev', '1');
  if (privileged) {
    set('lxc.cap.drop', 'sys_time sys_module sys_rawio mac_admin mac_override');
    set('lxc.mount.auto', 'proc:mixed sys:mixed cgroup:rw:force');
  } else {
    set('lxc.mount.auto', 'proc:rw sys:rw cgroup:rw:force');
  }
  if (nesting) {
    set('lxc.mount.entry', 'proc dev/.lxc/proc proc create=dir,optional 0 0');
    set('lxc.mount.entry', 'sys dev/.lxc/sys sysfs create=dir,optional 0 0');
  }
  for (const p of OPTIONAL_BINDS) {
    if (!existsSync(p)) continue;
    const dir = statSync(p).isDirectory();
    set('lxc.mount.entry', `${p} ${p.slice(1)} none ${dir ? 'rbind,create=dir' : 'bind,create=file'},optional 0 0`);
  }
  // /dev/incus/sock, as Incus mounts it (the directory, so that a daemon restart's new socket shows through).
  if (!isFalse(cfg['security.guestapi'])) {
    set('lxc.mount.entry', `${fstabEscape(input.guestApiDir)} dev/incus none bind,create=dir 0 0`);
    // LXD-era workloads look for /dev/lxd/sock: the same directory under the old name.
    set('lxc.mount.entry', `${fstabEscape(input.guestApiDir)} dev/lxd none bind,create=dir 0 0`);
  }
  set('lxc.apparmor.profile', 'unconfined');
  if (input.seccompProfile) set('lxc.seccomp.profile', input.seccompProfile);
  // NIC devices bring their own lxc.net.N lines; without any, the container gets only loopback.
  if (!input.extra.some((l) => l.startsWith('lxc.net.'))) set('lxc.net.0.type', 'empty');
  set('lxc.rootfs.path', `dir:${inst.volumePath}/rootfs`);
  if (inst.idmap) {
    lines.push(...lxcIdmapLines(inst.idmap));
    if (inst.idmappedRootfs) set('lxc.rootfs.options', 'idmap=container');
  }
  for (const [k, v] of Object.entries(cfg)) {
    if (k.startsWith('environment.')) set('lxc.environment', `${k.slice('environment.'.length)}=${v}`);
  }
  lines.push(...lxcCgroupLines(input.cgroup));
  if (input.cpuset && input.cpusetVersion !== 0) {
    set(input.cpusetVersion === 1 ? 'lxc.cgroup.cpuset.cpus' : 'lxc.cgroup2.cpuset.cpus', input.cpuset);
  }
  lines.push(...prlimitLines(cfg));
  lines.push(...input.extra);
  for (const [k, v] of parseRawLxc(cfg['raw.lxc'] ?? '')) set(k, v);
  return lines.join('\n') + '\n';
}
