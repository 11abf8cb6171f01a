/** The DeviceHost of this machine: real /dev, /sys, /proc, and the devices cgroup version. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceHost } from './interface';

/** v1 when a devices hierarchy is mounted, v2 (eBPF, always there) on a unified host, else 0. */
export function devicesCgroupVersion(cgroupRoot = '/sys/fs/cgroup'): 0 | 1 | 2 {
  if (existsSync(join(cgroupRoot, 'devices', 'devices.list'))) return 1;
  if (existsSync(join(cgroupRoot, 'cgroup.controllers'))) return 2;
  return 0;
}

export function detectDeviceHost(cgroupRoot?: string): DeviceHost {
  return { devRoot: '/dev', sysRoot: '/sys', procRoot: '/proc', devicesCgroup: devicesCgroupVersion(cgroupRoot) };
}
