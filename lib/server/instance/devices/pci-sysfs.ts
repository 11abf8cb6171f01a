/**
 * Host PCI functions as sysfs shows them, read under a root that tests point
 * at fixture trees: <sys>/bus/pci/devices/<addr>/{vendor,device,class,
 * driver,iommu_group,boot_vga,physfn,drm/cardN}, and whether the host has an
 * IOMMU at all (<sys>/kernel/iommu_groups/*), which PCI passthrough to a VM
 * (VFIO) cannot do without.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Validator } from '../config/validators';

/** One PCI function of the host. */
export interface PciFunction {
  /** Address in sysfs form: 0000:01:00.0. */
  address: string;
  /** Four lower-case hex digits, without 0x. */
  vendorId: string;
  productId: string;
  /** PCI class code, e.g. 0x030000 (display controller). */
  classCode: string;
  /** The bound host driver; empty when none. */
  driver: string;
  /** IOMMU group number; null when the function is in none (no IOMMU). */
  iommuGroup: number | null;
  /** The firmware's boot VGA device. */
  bootVga: boolean;
  /** An SR-IOV virtual function (shared with its host card). */
  virtualFunction: boolean;
  /** DRM card number when a DRM driver owns it. */
  drmCard: number | null;
}

/** Incus's accepted PCI address forms: [DDDD:]BB:SS.F, any case. */
export const isPciAddress: Validator = (v) => (/^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]$/.test(v) ? null : 'Invalid PCI address');

/** A PCI address in sysfs form: lower case, with the 0000: domain. */
export function normalisePciAddress(v: string): string {
  const low = v.toLowerCase();
  return /^[0-9a-f]{4}:/.test(low) ? low : `0000:${low}`;
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function linkBase(path: string): string {
  try {
    return basename(readlinkSync(path));
  } catch {
    return '';
  }
}

/** <sys>/bus/pci/devices/<address>. */
export function pciDevicePath(sysRoot: string, address: string): string {
  return join(sysRoot, 'bus', 'pci', 'devices', address);
}

/** The function at `address` (sysfs form), or null when the host has none there. */
export function readPciFunction(sysRoot: string, address: string): PciFunction | null {
  const dir = pciDevicePath(sysRoot, address);
  if (!existsSync(dir)) return null;
  const group = linkBase(join(dir, 'iommu_group'));
  let drmCard: number | null = null;
  try {
    const card = readdirSync(join(dir, 'drm')).find((n) => /^card\d+$/.test(n));
    if (card) drmCard = Number(card.slice(4));
  } catch {
    // No DRM driver bound.
  }
  return {
    address,
    vendorId: read(join(dir, 'vendor')).replace(/^0x/, '').toLowerCase(),
    productId: read(join(dir, 'device')).replace(/^0x/, '').toLowerCase(),
    classCode: read(join(dir, 'class')).toLowerCase(),
    driver: linkBase(join(dir, 'driver')),
    iommuGroup: /^\d+$/.test(group) ? Number(group) : null,
    bootVga: read(join(dir, 'boot_vga')) === '1',
    virtualFunction: existsSync(join(dir, 'physfn')),
    drmCard,
  };
}

/** Every PCI function of the host, in address order. */
export function listPciFunctions(sysRoot: string): PciFunction[] {
  let names: string[] = [];
  try {
    names = readdirSync(join(sysRoot, 'bus', 'pci', 'devices'));
  } catch {
    return [];
  }
  return names
    .filter((n) => /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/.test(n))
    .sort()
    .flatMap((n) => readPciFunction(sysRoot, n) ?? []);
}

/** How many IOMMU groups the host has (0: no IOMMU, or it is off). */
export function iommuGroupCount(sysRoot: string): number {
  try {
    return readdirSync(join(sysRoot, 'kernel', 'iommu_groups')).length;
  } catch {
    return 0;
  }
}

/**
 * The other functions of the same slot in `address`'s IOMMU group (a GPU's
 * audio function): they go to the guest together, as Incus passes them.
 */
export function iommuSiblings(sysRoot: string, address: string): string[] {
  const slot = address.split('.')[0];
  let members: string[] = [];
  try {
    members = readdirSync(join(realpathSync(join(pciDevicePath(sysRoot, address), 'iommu_group')), 'devices'));
  } catch {
    return [];
  }
  return members.filter((m) => m !== address && m.split('.')[0] === slot).sort();
}

/**
 * Throws a clear error unless the function at `address` can be handed to a
 * VM: it must exist, the host must have an IOMMU, and the function must be
 * in an IOMMU group.
 */
export function checkPassthroughHost(sysRoot: string, address: string): PciFunction {
  const fn = readPciFunction(sysRoot, address);
  if (!fn) throw new Error(`Invalid PCI address (no device found): ${address}`);
  if (iommuGroupCount(sysRoot) === 0) {
    throw new Error(
      `Cannot pass PCI device ${address} through: the host has no IOMMU (${join(sysRoot, 'kernel', 'iommu_groups')} is empty; ` +
        'enable VT-d or AMD-Vi in the firmware and boot with intel_iommu=on or amd_iommu=on)',
    );
  }
  if (fn.iommuGroup === null) throw new Error(`Cannot pass PCI device ${address} through: it is in no IOMMU group`);
  return fn;
}
