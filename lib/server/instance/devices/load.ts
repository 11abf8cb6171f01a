/** Device type name to driver. */
import type { DeviceDriver } from './interface';
import { diskDevice } from './disk';
import { gpuDevice } from './gpu';
import { nicDevice } from './nic';
import { noneDevice } from './none';
import { proxyDevice } from './proxy';
import { tpmDevice } from './tpm';
import { unixBlockDevice } from './unix-block';
import { unixCharDevice } from './unix-char';

const DRIVERS: Record<string, DeviceDriver> = {
  disk: diskDevice,
  gpu: gpuDevice,
  nic: nicDevice,
  none: noneDevice,
  proxy: proxyDevice,
  tpm: tpmDevice,
  'unix-block': unixBlockDevice,
  'unix-char': unixCharDevice,
};

export function deviceDriver(type: string): DeviceDriver | undefined {
  return DRIVERS[type];
}
