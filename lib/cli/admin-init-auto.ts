/**
 * The storage half of `incus admin init --auto` flags (Incus's runAuto):
 * `--storage-backend`, `--storage-create-device`, `--storage-create-loop`
 * and `--storage-pool`, checked in Incus's order and with its messages,
 * into the pool to create.
 */
import { backingFilesystem, runningInUserNS, varPath } from './admin-init-host';

/** The storage flags; loopSize is undefined when not given. */
export interface AutoStorageFlags {
  backend?: string;
  device?: string;
  loopSize?: number;
  pool?: string;
}

/** The pool `--auto` creates. */
export interface AutoPool {
  name: string;
  driver: string;
  config: Record<string, string>;
}

const hasAny = (f: AutoStorageFlags): boolean => !!f.backend || !!f.device || f.loopSize !== undefined || !!f.pool;

/**
 * Checks the flags against the server's storage drivers and existing pools
 * and returns the pool to create (null when the server has pools already).
 */
export function autoStoragePool(flags: AutoStorageFlags, supported: string[], existingPools: number, env: NodeJS.ProcessEnv): AutoPool | null {
  const { backend, device, loopSize, pool } = flags;
  if (backend && !['dir', 'btrfs', 'lvm', 'zfs'].includes(backend)) throw new Error(`The requested backend '${backend}' isn't supported by init`);
  const backingFs = backingFilesystem(varPath(env));
  // linux.AvailableStorageDrivers for local pools: in a user namespace only dir, and btrfs on btrfs.
  const userns = runningInUserNS();
  const available = supported.filter((n) => n === 'dir' || !userns || (backingFs === 'btrfs' && n === 'btrfs'));
  if (backend && !available.includes(backend)) throw new Error(`The requested backend '${backend}' isn't available on your system (missing tools)`);
  if (!backend || backend === 'dir') {
    if (loopSize !== undefined || device || pool) {
      throw new Error("None of --storage-pool, --storage-create-device or --storage-create-loop may be used with the 'dir' backend");
    }
  } else if (loopSize !== undefined && device) {
    throw new Error('Only one of --storage-create-device or --storage-create-loop can be specified');
  }
  if (existingPools > 0) {
    if (hasAny(flags)) throw new Error('Storage has already been configured');
    return null;
  }
  let driver = backend || 'dir';
  let source = pool ?? '';
  if (!backend && !pool && backingFs === 'btrfs' && available.includes('btrfs')) {
    // On btrfs, a subvolume of the daemon's own filesystem.
    driver = 'btrfs';
    source = varPath(env, 'storage-pools', 'default');
  }
  const config: Record<string, string> = {};
  if (device) config.source = device;
  else if (loopSize !== undefined && loopSize > 0) config.size = `${loopSize}GiB`;
  else if (source) config.source = source;
  // With a device or a loop, --storage-pool names the new pool.
  const name = pool && (device || loopSize !== undefined) ? pool : 'default';
  return { name, driver, config };
}
