/** Device type name to driver. */
import type { DeviceDriver } from './interface';
import { diskDevice } from './disk';
import { noneDevice } from './none';

const DRIVERS: Record<string, DeviceDriver> = {
  disk: diskDevice,
  none: noneDevice,
};

export function deviceDriver(type: string): DeviceDriver | undefined {
  return DRIVERS[type];
}
