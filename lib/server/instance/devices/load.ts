/** Device type name to driver. */
import type { DeviceDriver } from './interface';
import { diskDevice } from './disk';
import { gpuDevice } from './gpu';
import { nicDevice } from './nic';
import { noneDevice } from './none';
import { pciDevice } from './pci';
import { proxyDevice } from './proxy';
import { tpmDevice } from './tpm';
import { unixBlockDevice } from './unix-block';
import { unixCharDevice } from './unix-char';
import { usbDevice } from './usb';

const DRIVERS: Record<string, DeviceDriver> = {
  disk: diskDevice,
  gpu: gpuDevice,
  nic: nicDevice,
  none: noneDevice,
  pci: pciDevice,
  proxy: proxyDevice,
  tpm: tpmDevice,
  'unix-block': unixBlockDevice,
  'unix-char': unixCharDevice,
  usb: usbDevice,
};

export function deviceDriver(type: string): DeviceDriver | undefined {
  return DRIVERS[type];
}
