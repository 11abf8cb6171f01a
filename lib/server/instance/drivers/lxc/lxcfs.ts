/**
 * lxcfs, when the host runs it: its proc and sys files bind-mounted over the
 * container's so that free, top and nproc inside reflect the limits.
 */
import { readFileSync } from 'node:fs';

const PROC_FILES = ['cpuinfo', 'diskstats', 'loadavg', 'meminfo', 'slabinfo', 'stat', 'swaps', 'uptime'];

/** Whether dir is an lxcfs (FUSE) mount point, from /proc/self/mountinfo. */
export function isLxcfsMount(dir: string): boolean {
  try {
    const clean = dir.replace(/\/+$/, '');
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => {
        const f = l.split(' ');
        const sep = f.indexOf('-');
        return f[4] === clean && sep > 0 && f[sep + 1] === 'fuse.lxcfs';
      });
  } catch {
    return false;
  }
}

/** liblxc mount entries for an lxcfs mounted at dir. */
export function lxcfsMountEntries(dir: string): string[] {
  const out = PROC_FILES.map((f) => `lxc.mount.entry = ${dir}/proc/${f} proc/${f} none bind,optional,create=file 0 0`);
  out.push(`lxc.mount.entry = ${dir}/sys/devices/system/cpu sys/devices/system/cpu none bind,optional,create=dir 0 0`);
  return out;
}
