/** Storage driver registry: driver name to instance. */
import { badRequest } from '../errors';
import type { StorageDriver } from './interface';
import { DirDriver } from './drivers/dir';

const FACTORIES: Record<string, () => StorageDriver> = {
  dir: () => new DirDriver(),
};

export function supportedStorageDrivers(): string[] {
  return Object.keys(FACTORIES);
}

export function loadStorageDriver(name: string): StorageDriver {
  const f = FACTORIES[name];
  if (!f) throw badRequest(`Storage driver "${name}" is not supported`);
  return f();
}
