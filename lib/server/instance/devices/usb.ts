/**
 * `usb` devices for VMs: the host USB devices a config selects (vendorid,
 * productid, serial, busnum, devnum) handed to the guest with QEMU's
 * usb-host. As Incus: a device that matches nothing is skipped at start
 * unless `required=true`, which fails the start; `attached=false` keeps
 * the device out. Containers do not take `usb` devices here.
 */
import { badRequest } from '../../errors';
import { isTrue } from '../config-keys';
import { isAny, isBool, type Validator } from '../config/validators';
import type { DeviceDriver, DeviceStartContext } from './interface';
import { checkDeviceOptions, isOctalMode, isUnixId } from './options';
import { checkPassthroughTarget } from './pci';
import type { DeviceRunConfig } from './run-config';
import { scanUsb, usbMatches } from './usb-scan';

/** Incus's IsDeviceID: four lower-case hex digits. */
const isDeviceId: Validator = (v) => (v === '' || /^[0-9a-f]{4}$/.test(v) ? null : 'Invalid value, must be four lower case hex characters');
const isUint32: Validator = (v) => (v === '' || (/^\d+$/.test(v) && Number(v) <= 0xffffffff) ? null : 'Invalid value for an unsigned 32-bit integer');

const RULES = {
  vendorid: isDeviceId,
  productid: isDeviceId,
  serial: isAny,
  // Containers only in Incus; accepted (and unused) on VMs as Incus accepts them.
  uid: isUnixId,
  gid: isUnixId,
  mode: isOctalMode,
  required: isBool,
  busnum: isUint32,
  devnum: isUint32,
  attached: isBool,
};

/** What a VM's usb device asks for: each matching host device, unless detached. */
export function usbRunConfig(ctx: Pick<DeviceStartContext, 'name' | 'config' | 'host'>): DeviceRunConfig {
  const found = scanUsb(ctx.host.sysRoot).filter((d) => usbMatches(ctx.config, d));
  if (found.length === 0 && isTrue(ctx.config.required)) throw badRequest('Required USB device not found');
  if (ctx.config.attached !== undefined && ctx.config.attached !== '' && !isTrue(ctx.config.attached)) return {};
  return {
    usbDevices: found.map((d) => ({ device: ctx.name, bus: d.busnum, address: d.devnum, vendorid: d.vendorid, productid: d.productid })),
  };
}

export const usbDevice: DeviceDriver = {
  type: 'usb',
  validate(name, config) {
    checkDeviceOptions(name, config, RULES);
  },
  async start(ctx) {
    checkPassthroughTarget(ctx, 'USB');
    return usbRunConfig(ctx);
  },
};
