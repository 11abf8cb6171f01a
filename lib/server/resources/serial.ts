/**
 * Serial devices (`serial`): the ttys udev links under /dev/serial/by-path
 * and by-id, with their node, driver and (for USB adapters) ids and names;
 * after Incus's shared/resources/serial.go.
 */
import { basename, join } from 'node:path';
import type { ResourcesSerial, ResourcesSerialDevice } from '../../api/resources';
import { type Host, linkBase, list, readTrim, resolve } from './host';

async function scan(table: Map<string, ResourcesSerialDevice>, dir: string, field: 'device_id' | 'device_path'): Promise<void> {
  for (const name of await list(dir)) {
    const link = join(dir, name);
    const target = await resolve(link);
    if (target === null) continue;
    const id = basename(target);
    let dev = table.get(id);
    if (!dev) {
      dev = { id, device: '', device_id: '', device_path: '', driver: '', vendor: '', vendor_id: '', product: '', product_id: '' };
      table.set(id, dev);
    }
    dev[field] = link;
  }
}

async function enrich(host: Host, dev: ResourcesSerialDevice): Promise<void> {
  const sysPath = join(host.sys, 'class', 'tty', dev.id);
  dev.device = (await readTrim(join(sysPath, 'dev'))) ?? '';
  const devicePath = await resolve(join(sysPath, 'device'));
  if (devicePath === null) return;
  dev.driver = (await linkBase(join(devicePath, 'driver'))) ?? '';
  if (!devicePath.includes('/usb')) return;
  // The USB device is two levels up: .../usb1/1-1/1-1:1.0/ttyUSB0.
  const usbDevice = await resolve(join(devicePath, '..', '..'));
  if (usbDevice === null) return;
  dev.vendor_id = (await readTrim(join(usbDevice, 'idVendor'))) ?? '';
  dev.product_id = (await readTrim(join(usbDevice, 'idProduct'))) ?? '';
  if (dev.vendor_id === '' || dev.product_id === '') return;
  const vendor = (await host.ids.usbIds())?.vendors.get(parseInt(dev.vendor_id, 16));
  if (!vendor) return;
  dev.vendor = vendor.name;
  dev.product = vendor.products.get(parseInt(dev.product_id, 16)) ?? '';
}

/** The `serial` section. */
export async function readSerial(host: Host): Promise<ResourcesSerial> {
  const table = new Map<string, ResourcesSerialDevice>();
  await scan(table, join(host.dev, 'serial', 'by-path'), 'device_path');
  await scan(table, join(host.dev, 'serial', 'by-id'), 'device_id');
  const devices = [...table.values()].sort((a, b) => a.id.localeCompare(b.id));
  await Promise.all(devices.map((d) => enrich(host, d)));
  return { devices, total: devices.length };
}
