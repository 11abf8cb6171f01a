/**
 * Network cards (`network`): interfaces of /sys/class/net backed by a
 * device, then network controllers (PCI class 0x02) without one; ports,
 * driver, SR-IOV, VDPA and InfiniBand nodes; after Incus's
 * shared/resources/network.go. Link state, speed and duplex come from the
 * interface's sysfs attributes where Incus asks ethtool (no ioctl here):
 * supported modes, port and transceiver types and the firmware version
 * are left out.
 */
import { join } from 'node:path';
import type { ResourcesNetwork, ResourcesNetworkCard, ResourcesNetworkCardPort, ResourcesNetworkCardPortInfiniband } from '../../api/resources';
import { addDriver, addPciIds, collectCards, inOrder, readSriov } from './cards';
import { deviceDir, deviceNumaNode, exists, type Host, list, readInt, readTrim, usbAddress } from './host';

/** ARPHRD_* values Incus names. */
const PROTOCOLS: Record<number, string> = { 1: 'ethernet', 19: 'ATM', 32: 'infiniband' };

async function readInfiniband(devicePath: string, port: number): Promise<ResourcesNetworkCardPortInfiniband> {
  const ib: ResourcesNetworkCardPortInfiniband = {};
  const mad = join(devicePath, 'infiniband_mad');
  for (const name of await list(mad)) {
    if ((await readInt(join(mad, name, 'port'))) !== port + 1) continue;
    const dev = await readTrim(join(mad, name, 'dev'));
    if (dev === null) continue;
    if (name.startsWith('issm')) {
      ib.issm_name = name;
      ib.issm_device = dev;
    }
    if (name.startsWith('umad')) {
      ib.mad_name = name;
      ib.mad_device = dev;
    }
  }
  const verbs = await list(join(devicePath, 'infiniband_verbs'));
  if (verbs.length === 1) {
    ib.verb_name = verbs[0];
    const dev = await readTrim(join(devicePath, 'infiniband_verbs', verbs[0], 'dev'));
    if (dev !== null) ib.verb_device = dev;
  }
  return ib;
}

/** One interface of a card, from /sys/class/net/<name>. */
export async function readPort(devicePath: string, ifacePath: string, id: string): Promise<ResourcesNetworkCardPort> {
  const [type, address, devPort, carrier, speed, duplex] = await Promise.all([
    readInt(join(ifacePath, 'type')),
    readTrim(join(ifacePath, 'address')),
    readInt(join(ifacePath, 'dev_port')),
    readInt(join(ifacePath, 'carrier')),
    readInt(join(ifacePath, 'speed')),
    readTrim(join(ifacePath, 'duplex')),
  ]);
  const out: ResourcesNetworkCardPort = {
    id,
    ...(address ? { address } : {}),
    port: devPort ?? 0,
    protocol: type === null ? '' : (PROTOCOLS[type] ?? 'unknown'),
    auto_negotiation: false,
    link_detected: carrier === 1,
  };
  if (out.link_detected && speed !== null && speed > 0 && speed !== 0xffffffff) {
    out.link_speed = speed;
    if (duplex === 'full' || duplex === 'half') out.link_duplex = duplex;
  }
  if (out.protocol === 'infiniband' && (await exists(join(devicePath, 'infiniband')))) out.infiniband = await readInfiniband(devicePath, out.port);
  return out;
}

async function addDeviceInfo(host: Host, devicePath: string, card: ResourcesNetworkCard): Promise<void> {
  const dir = await deviceDir(devicePath);
  const vdpa = (await list(dir)).find((n) => n.startsWith('vdpa'));
  if (vdpa) {
    const dev = (await list(join(dir, vdpa))).find((n) => n.startsWith('vhost-vdpa-'));
    if (dev) card.vdpa = { name: vdpa, device: dev };
  }
  const sriov = await readSriov<ResourcesNetworkCard>(dir);
  if (sriov) card.sriov = sriov;
  card.numa_node = await deviceNumaNode(dir);
  const usb = await usbAddress(dir, host.sys);
  if (usb) card.usb_address = usb;
  await addPciIds(host, dir, card);
  await addDriver(host, dir, card);
  const netPath = join(devicePath, 'net');
  if (await exists(netPath)) {
    const names = await list(netPath);
    card.ports = await Promise.all(names.map((n) => readPort(devicePath, join(netPath, n), n)));
  }
}

const CARD_FIELDS: (keyof ResourcesNetworkCard)[] = ['driver', 'driver_version', 'ports', 'sriov', 'vdpa', 'numa_node', 'pci_address', 'vendor', 'vendor_id', 'product', 'product_id', 'firmware_version', 'usb_address'];

/** The `network` section. */
export async function readNetwork(host: Host): Promise<ResourcesNetwork> {
  const netRoot = join(host.sys, 'class', 'net');
  const classDevices: string[] = [];
  // Only interfaces backed by a device (not lo, bridges, veths).
  for (const name of await list(netRoot)) if (await exists(join(netRoot, name, 'device'))) classDevices.push(join(netRoot, name, 'device'));
  return collectCards<ResourcesNetworkCard>(host, {
    classDevices,
    pciClass: '0x02',
    fill: (devicePath, card) => addDeviceInfo(host, devicePath, card),
    ordered: (card) => inOrder(card, CARD_FIELDS, (k) => k === 'ports' && card.ports?.length === 0),
  });
}
