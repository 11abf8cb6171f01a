/**
 * The VM side of `gpu` devices of gputype `physical`: the one host display
 * card (PCI class 0x03) the config selects (vendorid, productid, pci, or id,
 * the DRM card number) is handed to the guest whole through VFIO, with the
 * other functions of its slot in its IOMMU group (its HDMI audio), as Incus
 * does; the host's boot VGA card becomes the guest's VGA.
 */
import { badRequest } from '../../errors';
import { checkPassthroughHost, listPciFunctions, iommuSiblings, normalisePciAddress, type PciFunction } from './pci-sysfs';
import type { DeviceRunConfig } from './run-config';

/** Incus's gpuSelected over the host's PCI display functions. */
function selected(config: Record<string, string>, fn: PciFunction): boolean {
  return (
    fn.classCode.startsWith('0x03') &&
    (!config.vendorid || fn.vendorId === config.vendorid.toLowerCase()) &&
    (!config.productid || fn.productId === config.productid.toLowerCase()) &&
    (!config.pci || fn.address === normalisePciAddress(config.pci)) &&
    (!config.id || (fn.drmCard !== null && String(fn.drmCard) === config.id))
  );
}

/** What a VM's gpu device asks for; throws a 400 when no card, several cards, or no IOMMU. */
export function gpuVmRunConfig(name: string, config: Record<string, string>, sysRoot: string): DeviceRunConfig {
  if (config.pci && !listPciFunctions(sysRoot).some((f) => f.address === normalisePciAddress(config.pci))) {
    throw badRequest(`Invalid PCI address (no device found): ${normalisePciAddress(config.pci)}`);
  }
  const cards = listPciFunctions(sysRoot).filter((f) => selected(config, f));
  if (cards.length === 0) throw badRequest('Failed to detect requested GPU device');
  if (cards.length > 1) throw badRequest('VMs cannot match multiple GPUs per device');
  const card = cards[0];
  try {
    checkPassthroughHost(sysRoot, card.address);
  } catch (err) {
    throw badRequest((err as Error).message);
  }
  return {
    pciDevices: [
      { device: name, address: card.address, vga: card.bootVga && !card.virtualFunction },
      ...iommuSiblings(sysRoot, card.address).map((address) => ({ device: name, address })),
    ],
  };
}
