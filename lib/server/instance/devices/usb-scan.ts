/**
 * USB devices as the host shows them, read under a sysfs root that tests
 * point at fixture trees: <sys>/bus/usb/devices/<port>/{idVendor,idProduct,
 * serial,busnum,devnum,dev}; entries without them (interfaces, hubs' ports)
 * are skipped, as Incus skips them. Matching follows Incus's usbIsOurDevice.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One USB device of the host. */
export interface UsbHostDevice {
  vendorid: string;
  productid: string;
  /** Empty when the device reports none. */
  serial: string;
  busnum: number;
  devnum: number;
  /** Its /dev/bus/usb node's numbers. */
  major: number;
  minor: number;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Every USB device on the host (none when the host has no USB at all). */
export function scanUsb(sysRoot: string): UsbHostDevice[] {
  const dir = join(sysRoot, 'bus', 'usb', 'devices');
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  const out: UsbHostDevice[] = [];
  for (const n of names) {
    const f = (k: string): string | null => read(join(dir, n, k));
    const [vendorid, productid, busnum, devnum, dev] = [f('idVendor'), f('idProduct'), f('busnum'), f('devnum'), f('dev')];
    if (vendorid === null || productid === null || busnum === null || devnum === null || dev === null) continue;
    const nums = /^(\d+):(\d+)$/.exec(dev);
    if (!nums || !/^\d+$/.test(busnum) || !/^\d+$/.test(devnum)) continue;
    out.push({
      vendorid,
      productid,
      serial: f('serial') ?? '',
      busnum: Number(busnum),
      devnum: Number(devnum),
      major: Number(nums[1]),
      minor: Number(nums[2]),
    });
  }
  return out;
}

/** Whether `dev` is one a usb device config selects (every key set must match; none set: all). */
export function usbMatches(config: Record<string, string>, dev: UsbHostDevice): boolean {
  return (
    (!config.vendorid || config.vendorid === dev.vendorid) &&
    (!config.productid || config.productid === dev.productid) &&
    (!config.serial || config.serial === dev.serial) &&
    (!config.busnum || config.busnum === String(dev.busnum)) &&
    (!config.devnum || config.devnum === String(dev.devnum))
  );
}
