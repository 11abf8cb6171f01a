/**
 * USB devices (`usb`): /sys/bus/usb/devices entries with a bus number,
 * hubs left out, with their interfaces; names from the device's `product`
 * file and usb.ids; after Incus's shared/resources/usb.go.
 */
import { join } from 'node:path';
import type { ResourcesUSB, ResourcesUSBDevice, ResourcesUSBDeviceInterface } from '../../api/resources';
import { driverOf, type Host, isDir, list, readHex, readId, readInt, readTrim } from './host';
import type { UsbIds } from './ids';

/** USB class 9: hubs. */
const HUB_CLASS = 9;

async function readInterface(host: Host, path: string, ids: UsbIds | null): Promise<ResourcesUSBDeviceInterface> {
  const classId = (await readHex(join(path, 'bInterfaceClass'))) ?? 0;
  const subclassId = (await readHex(join(path, 'bInterfaceSubClass'))) ?? 0;
  const cls = ids?.classes.get(classId);
  const driver = await driverOf(path, host);
  return {
    class: cls?.name ?? '',
    class_id: classId,
    driver: driver?.driver ?? '',
    driver_version: driver?.version ?? '',
    number: (await readHex(join(path, 'bInterfaceNumber'))) ?? 0,
    subclass: subclassId > 0 ? (cls?.subclasses.get(subclassId) ?? '') : '',
    subclass_id: subclassId,
  };
}

async function readDevice(host: Host, root: string, name: string, ids: UsbIds | null): Promise<ResourcesUSBDevice | null> {
  const path = join(root, name);
  const bus = await readInt(join(path, 'busnum'));
  if (bus === null) return null;
  if ((await readHex(join(path, 'bDeviceClass'))) === HUB_CLASS) return null;
  const productId = (await readId(join(path, 'idProduct'))) ?? '';
  const vendorId = (await readId(join(path, 'idVendor'))) ?? '';
  const vendor = ids?.vendors.get(parseInt(vendorId || '0', 16));
  let product = (await readTrim(join(path, 'product'))) ?? '';
  if (product === '' && vendor) product = vendor.products.get(parseInt(productId || '0', 16)) ?? '';
  const speed = Number((await readTrim(join(path, 'speed'))) ?? '0');
  const interfaces: ResourcesUSBDeviceInterface[] = [];
  for (const sub of await list(path)) {
    if (sub.startsWith(name) && (await isDir(join(path, sub)))) interfaces.push(await readInterface(host, join(path, sub), ids));
  }
  return {
    bus_address: bus,
    device_address: (await readInt(join(path, 'devnum'))) ?? 0,
    serial: (await readTrim(join(path, 'iSerial'))) ?? '',
    interfaces: interfaces.length > 0 ? interfaces : null,
    vendor: vendor?.name ?? '',
    vendor_id: vendorId,
    product,
    product_id: productId,
    speed: Number.isFinite(speed) ? speed : 0,
  };
}

/** The `usb` section. */
export async function readUSB(host: Host): Promise<ResourcesUSB> {
  const root = join(host.sys, 'bus', 'usb', 'devices');
  const names = await list(root);
  if (names.length === 0) return { devices: [], total: 0 };
  const ids = await host.ids.usbIds();
  const devices = (await Promise.all(names.map((n) => readDevice(host, root, n, ids)))).filter((d): d is ResourcesUSBDevice => d !== null);
  return { devices, total: devices.length };
}
