/**
 * GPUs (`gpu`): DRM cards of /sys/class/drm, then the display controllers
 * (PCI class 0x03) without one; DRM nodes, SR-IOV, mediated device types
 * and the NVIDIA driver's /proc information; after Incus's
 * shared/resources/gpu.go (without nvidia-container-cli).
 */
import { join } from 'node:path';
import type { ResourcesGPU, ResourcesGPUCard, ResourcesGPUCardDRM, ResourcesGPUCardMdev, ResourcesGPUCardNvidia } from '../../api/resources';
import { addDriver, addPciIds, collectCards, inOrder, readSriov } from './cards';
import { deviceNumaNode, exists, type Host, isDir, list, readInt, readTrim, usbAddress } from './host';

/** /proc/driver/nvidia/gpus/<pci>/information, keyed by PCI address. */
async function nvidiaProc(host: Host): Promise<Map<string, ResourcesGPUCardNvidia>> {
  const out = new Map<string, ResourcesGPUCardNvidia>();
  const gpus = join(host.proc, 'driver', 'nvidia', 'gpus');
  for (const name of await list(gpus)) {
    const text = await readTrim(join(gpus, name, 'information'));
    if (text === null) continue;
    const card: ResourcesGPUCardNvidia = { brand: '', model: '', card_name: '', card_device: '' };
    for (const line of text.split('\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const key = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (key === 'Model') {
        card.model = value;
        card.brand = value.split(' ')[0];
      } else if (key === 'Device Minor') {
        card.card_name = `nvidia${value}`;
        card.card_device = `195:${value}`;
      }
    }
    out.set(name, card);
  }
  return out;
}

async function readDrm(path: string): Promise<ResourcesGPUCardDRM> {
  const drm: ResourcesGPUCardDRM = { id: 0, card_name: '', card_device: '' };
  for (const name of await list(path)) {
    const dev = (await readTrim(join(path, name, 'dev'))) ?? '';
    const card = /^card(\d+)$/.exec(name);
    if (card) {
      drm.id = Number(card[1]);
      drm.card_name = name;
      drm.card_device = dev;
    } else if (name.startsWith('controlD')) {
      drm.control_name = name;
      drm.control_device = dev;
    } else if (name.startsWith('renderD')) {
      drm.render_name = name;
      drm.render_device = dev;
    }
  }
  return drm;
}

async function readMdev(path: string): Promise<Record<string, ResourcesGPUCardMdev>> {
  const out: Record<string, ResourcesGPUCardMdev> = {};
  for (const name of await list(path)) {
    const p = join(path, name);
    const description = await readTrim(join(p, 'description'));
    const mdevName = await readTrim(join(p, 'name'));
    out[name] = {
      api: (await readTrim(join(p, 'device_api'))) ?? '',
      available: (await readInt(join(p, 'available_instances'))) ?? 0,
      ...(mdevName ? { name: mdevName } : {}),
      ...(description ? { description } : {}),
      devices: (await exists(join(p, 'devices'))) ? await list(join(p, 'devices')) : null,
    };
  }
  return out;
}

/** Fills a card from its device folder (descending into nested `device` folders). */
async function addDeviceInfo(host: Host, devicePath: string, nvidia: Map<string, ResourcesGPUCardNvidia>, card: ResourcesGPUCard): Promise<void> {
  if (await isDir(join(devicePath, 'device'))) return addDeviceInfo(host, join(devicePath, 'device'), nvidia, card);
  const sriov = await readSriov<ResourcesGPUCard>(devicePath);
  if (sriov) card.sriov = sriov;
  card.numa_node = await deviceNumaNode(devicePath);
  if (await exists(join(devicePath, 'device', 'busnum'))) {
    const usb = await usbAddress(join(devicePath, 'device'), host.sys);
    if (usb) card.usb_address = usb;
  } else {
    await addPciIds(host, devicePath, card);
  }
  await addDriver(host, devicePath, card);
  if (card.driver === 'nvidia' && card.pci_address) {
    const info = nvidia.get(card.pci_address) ?? nvidia.get(`0000${card.pci_address}`);
    if (info) card.nvidia = info;
  }
  if (await exists(join(devicePath, 'drm'))) card.drm = await readDrm(join(devicePath, 'drm'));
  if (await exists(join(devicePath, 'mdev_supported_types'))) card.mdev = await readMdev(join(devicePath, 'mdev_supported_types'));
}

const GPU_FIELDS: (keyof ResourcesGPUCard)[] = ['driver', 'driver_version', 'drm', 'sriov', 'nvidia', 'mdev', 'numa_node', 'pci_address', 'vendor', 'vendor_id', 'product', 'product_id', 'usb_address'];

/** The `gpu` section. */
export async function readGPU(host: Host): Promise<ResourcesGPU> {
  const nvidia = await nvidiaProc(host);
  const drm = join(host.sys, 'class', 'drm');
  const classDevices: string[] = [];
  // Cards only (not render nodes), and only main entries (with a dev node).
  for (const name of await list(drm)) if (name.startsWith('card') && (await exists(join(drm, name, 'dev')))) classDevices.push(join(drm, name, 'device'));
  return collectCards<ResourcesGPUCard>(host, {
    classDevices,
    pciClass: '0x03',
    fill: (devicePath, card) => addDeviceInfo(host, devicePath, nvidia, card),
    ordered: (card) => inOrder(card, GPU_FIELDS),
  });
}
