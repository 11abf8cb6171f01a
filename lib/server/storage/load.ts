/** Storage driver registry: driver name to instance. */
import { badRequest } from '../errors';
import type { StorageDriver } from './interface';
import { BtrfsDriver } from './drivers/btrfs';
import { DirDriver } from './drivers/dir';
import { LvmDriver } from './drivers/lvm';

const FACTORIES: Record<string, () => StorageDriver> = {
  btrfs: () => new BtrfsDriver(),
  dir: () => new DirDriver(),
  lvm: () => new LvmDriver(),
};

export function supportedStorageDrivers(): string[] {
  return Object.keys(FACTORIES);
}

export function loadStorageDriver(name: string): StorageDriver {
  const f = FACTORIES[name];
  if (!f) throw badRequest(`Storage driver "${name}" is not supported`);
  return f();
}
