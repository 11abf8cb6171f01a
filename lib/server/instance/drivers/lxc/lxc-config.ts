/**
 * Renders the liblxc configuration of a container from its expanded
 * config: the same base Incus uses (mounts, caps, ptys), the idmap for
 * unprivileged containers, logs and console ring buffer.
 */
import { existsSync, statSync } from 'node:fs';
import type { InstanceRuntime } from '../../interface';
import type { Idmap } from '../../idmap';
import { isTrue } from '../../config-keys';

export interface LxcConfigInput {
  inst: InstanceRuntime;
  lxcName: string;
  idmap: Idmap;
  logFile: string;
  consoleLogFile: string;
  debug: boolean;
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

export function renderLxcConfig(input: LxcConfigInput): string {
  const { inst, idmap } = input;
  const privileged = isTrue(inst.expandedConfig['security.privileged']);
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
  for (const p of OPTIONAL_BINDS) {
    if (!existsSync(p)) continue;
    const dir = statSync(p).isDirectory();
    set('lxc.mount.entry', `${p} ${p.slice(1)} none ${dir ? 'rbind,create=dir' : 'bind,create=file'},optional 0 0`);
  }
  set('lxc.apparmor.profile', 'unconfined');
  set('lxc.net.0.type', 'empty');
  set('lxc.rootfs.path', `dir:${inst.volumePath}/rootfs`);
  if (!privileged) {
    set('lxc.idmap', `u 0 ${idmap.uid.hostBase} ${idmap.uid.size}`);
    set('lxc.idmap', `g 0 ${idmap.gid.hostBase} ${idmap.gid.size}`);
    if (inst.idmappedRootfs) set('lxc.rootfs.options', 'idmap=container');
  }
  for (const [k, v] of Object.entries(inst.expandedConfig)) {
    if (k.startsWith('environment.')) set('lxc.environment', `${k.slice('environment.'.length)}=${v}`);
  }
  return lines.join('\n') + '\n';
}
