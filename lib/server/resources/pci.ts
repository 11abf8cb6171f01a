/**
 * PCI devices (`pci`): every device of /sys/bus/pci/devices with its
 * driver, NUMA node, ids and names, IOMMU group and Vital Product Data;
 * after Incus's shared/resources/pci.go and pci_vpd.go.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourcesPCI, ResourcesPCIDevice } from '../../api/resources';
import { deviceNumaNode, driverOf, type Host, linkBase, list, readId } from './host';

/** The VPD keys Incus keeps: V*, Y*, Z* and a few standard ones. */
function vpdKnownKey(key: string): boolean {
  if (key === '') return false;
  return 'VYZ'.includes(key[0]) || ['CC', 'EC', 'FC', 'FN', 'MN', 'NA', 'PN', 'RM', 'SN'].includes(key);
}

const vpdString = (buf: Buffer): string => buf.toString('latin1').replace(/^[\0 ]+|[\0 ]+$/g, '');

/** The VPD keywords of one read-only or read-write section. */
function vpdEntries(buf: Buffer, into: Record<string, string>): void {
  let i = 0;
  while (i < buf.length) {
    const key = vpdString(buf.subarray(i, i + 2));
    i += 2;
    if (i >= buf.length) break;
    const len = buf[i];
    i += 1;
    if (len === 0) continue;
    const value = vpdString(buf.subarray(i, i + len));
    i += len;
    if (vpdKnownKey(key)) into[key] = value;
  }
}

/** A device's `vpd` file: the product name (tag 0x82) and known keywords (tags 0x90, 0x91). */
export function parsePciVpd(buf: Buffer): ResourcesPCIDevice['vpd'] {
  let productName = '';
  const entries: Record<string, string> = {};
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i];
    i += 1;
    let length: number;
    if ((tag & 0x80) === 0x80) {
      if (buf.length - i < 2) break;
      length = buf[i] | (buf[i + 1] << 8);
      i += 2;
    } else {
      length = tag & 0x07;
    }
    const body = buf.subarray(i, Math.min(buf.length, i + length));
    if (tag === 0x82) productName = vpdString(body);
    else if (tag === 0x90 || tag === 0x91) vpdEntries(body, entries);
    // The end tag (0x78) and anything past the data stop the walk.
    else if (tag === 0x78 || buf.length - i < length) break;
    i += length;
  }
  return { ...(productName ? { product_name: productName } : {}), ...(Object.keys(entries).length > 0 ? { entries } : {}) };
}

async function readVpd(path: string): Promise<ResourcesPCIDevice['vpd']> {
  try {
    return parsePciVpd(await readFile(path));
  } catch {
    return {};
  }
}

async function readDevice(host: Host, root: string, address: string): Promise<ResourcesPCIDevice> {
  const path = join(root, address);
  const [driver, numa, productId, vendorId, iommu, vpd] = await Promise.all([
    driverOf(path, host),
    deviceNumaNode(path),
    readId(join(path, 'device')),
    readId(join(path, 'vendor')),
    linkBase(join(path, 'iommu_group')),
    readVpd(join(path, 'vpd')),
  ]);
  const names = await host.ids.pciNames(vendorId ?? '', productId ?? '');
  return {
    driver: driver?.driver ?? '',
    driver_version: driver?.version ?? '',
    numa_node: numa,
    pci_address: address,
    vendor: names.vendor,
    vendor_id: vendorId ?? '',
    product: names.product,
    product_id: productId ?? '',
    iommu_group: iommu !== null && /^\d+$/.test(iommu) ? Number(iommu) : 0,
    vpd,
  };
}

/** The `pci` section. */
export async function readPCI(host: Host): Promise<ResourcesPCI> {
  const root = join(host.sys, 'bus', 'pci', 'devices');
  const devices = await Promise.all((await list(root)).map((a) => readDevice(host, root, a)));
  return { devices, total: devices.length };
}
