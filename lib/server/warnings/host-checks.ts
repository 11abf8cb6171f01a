/**
 * The host conditions Incus warns about that occur here, checked at start:
 * cgroup controllers (v1 hierarchies or the v2 controllers file), swap
 * accounting, AppArmor, virtiofsd, and virtual machines without KVM (run
 * under TCG) or without QEMU. Each is raised when it holds and resolved
 * when it no longer does.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceDrivers } from '../instance/load';
import { hostAccelerator } from '../instance/drivers/qemu/accelerator';
import { findVirtiofsd } from '../instance/drivers/qemu/virtiofsd';
import { WarningType, type WarningTypeCode } from './types';
import type { Warnings } from './warnings';

const CGROUP = '/sys/fs/cgroup';

/** The controllers the host offers: v2's cgroup.controllers, else v1's mounted hierarchies. */
export function cgroupControllers(root = CGROUP): { v2: boolean; controllers: Set<string> } {
  const v2file = join(root, 'cgroup.controllers');
  if (existsSync(v2file)) {
    // cgroup v2: devices and freezer are built in.
    const list = readFileSync(v2file, 'utf8').trim().split(/\s+/).filter(Boolean);
    return { v2: true, controllers: new Set([...list, 'devices', 'freezer', 'cpuacct']) };
  }
  const names = ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory', 'pids'];
  return { v2: false, controllers: new Set(names.filter((n) => existsSync(join(root, n)))) };
}

/** The controllers Incus checks, with the warning each raises and the name its message uses. */
const CONTROLLERS: [string[], WarningTypeCode, string][] = [
  [['blkio', 'io'], WarningType.MissingCGroupBlkio, 'blkio'],
  [['cpu'], WarningType.MissingCGroupCPUController, 'CPU'],
  [['cpuset'], WarningType.MissingCGroupCPUsetController, 'CPUset'],
  [['cpuacct'], WarningType.MissingCGroupCPUacctController, 'CPUacct'],
  [['devices'], WarningType.MissingCGroupDevicesController, 'devices'],
  [['freezer'], WarningType.MissingCGroupFreezerController, 'freezer'],
  [['hugetlb'], WarningType.MissingCGroupHugetlbController, 'hugetlb'],
  [['memory'], WarningType.MissingCGroupMemoryController, 'memory'],
  [['pids'], WarningType.MissingCGroupPidsController, 'pids'],
];

export interface HostFacts {
  cgroup: { v2: boolean; controllers: Set<string> };
  swapAccounting: boolean;
  /** v1: blkio.weight (or the BFQ one) exists. */
  blkioWeight: boolean;
  apparmor: boolean;
  virtiofsd: boolean;
}

export function readHostFacts(root = CGROUP): HostFacts {
  const cgroup = cgroupControllers(root);
  const swapAccounting = cgroup.v2 ? existsSync(join(root, 'init.scope', 'memory.swap.max')) || !existsSync(join(root, 'init.scope')) : existsSync(join(root, 'memory', 'memory.memsw.limit_in_bytes'));
  const blkioWeight = ['blkio.weight', 'blkio.bfq.weight'].some((f) => existsSync(join(root, 'blkio', f)));
  return { cgroup, swapAccounting, blkioWeight, apparmor: existsSync('/sys/kernel/security/apparmor'), virtiofsd: findVirtiofsd() !== null };
}

/** Raises or resolves every host condition. */
export async function checkHost(w: Warnings, facts: HostFacts, drivers: InstanceDrivers): Promise<void> {
  const { controllers } = facts.cgroup;
  for (const [names, type, shown] of CONTROLLERS) {
    const missing = !names.some((n) => controllers.has(n));
    await w.set(type, missing, `Couldn't find the CGroup ${shown} controller, ${shown} limits will be ignored`);
  }
  const blkioWeight = facts.cgroup.v2 || !controllers.has('blkio') || facts.blkioWeight;
  await w.set(WarningType.MissingCGroupBlkioWeight, !blkioWeight, "Couldn't find the CGroup blkio.weight, disk priority will be ignored");
  await w.set(WarningType.MissingCGroupMemorySwapAccounting, controllers.has('memory') && !facts.swapAccounting, "Couldn't find the CGroup memory swap accounting, swap limits will be ignored");
  await w.set(WarningType.AppArmorNotAvailable, !facts.apparmor, 'AppArmor support has been disabled because of lack of kernel support');
  const vmProblem = drivers.problem('virtual-machine');
  await w.set(WarningType.MissingVirtiofsd, vmProblem === undefined && !facts.virtiofsd, 'Unable to find virtiofsd, directory shares with virtual machines fall back to 9p');
  let vmMessage = vmProblem ?? '';
  if (!vmProblem) {
    const accel = hostAccelerator();
    if (accel.accel === 'tcg') vmMessage = `Virtual machines run under emulation (TCG), without KVM acceleration: ${accel.reason}`;
  }
  await w.set(WarningType.InstanceTypeNotOperational, vmMessage !== '', vmMessage, { entityUrl: '' });
}
