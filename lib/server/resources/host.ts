/**
 * Where the resource readers look (the /sys, /proc, /dev and /run roots, the
 * kernel release and machine name) and the small sysfs helpers they share,
 * after Incus's shared/resources/utils.go. Every read is async; a value
 * the host does not expose reads as null rather than failing the whole
 * answer.
 */
import { lstat, readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { machine, release } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { IdDatabases } from './ids';

/** The host as the readers see it; tests point the roots at fixture trees. */
export interface Host {
  sys: string;
  proc: string;
  dev: string;
  run: string;
  /** `uname -r`: a driver's version when its module has none. */
  kernelRelease: string;
  /** `uname -m`: the CPU architecture. */
  machine: string;
  /** pci.ids and usb.ids, read once on first use. */
  ids: IdDatabases;
}

/** The running host. */
export function defaultHost(): Host {
  return { sys: '/sys', proc: '/proc', dev: '/dev', run: '/run', kernelRelease: release(), machine: machine(), ids: new IdDatabases() };
}

/** Whether the path exists (a dangling link counts, as Incus's Lstat does). */
export async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** The file's text, trimmed; null when it cannot be read. */
export async function readTrim(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return null;
  }
}

/** A decimal integer file; null when absent or not a number. */
export async function readInt(path: string): Promise<number | null> {
  const text = await readTrim(path);
  if (text === null || !/^-?\d+$/.test(text)) return null;
  return Number(text);
}

/** A hexadecimal file (`0x8086` or `8086`); null when absent or not hex. */
export async function readHex(path: string): Promise<number | null> {
  const text = await readTrim(path);
  if (text === null || !/^(0x)?[0-9a-fA-F]+$/.test(text)) return null;
  return parseInt(text.replace(/^0x/, ''), 16);
}

/** A sysfs id file without its `0x` (`8086`), or null. */
export async function readId(path: string): Promise<string | null> {
  const text = await readTrim(path);
  return text === null ? null : text.replace(/^0x/, '');
}

/** Names in a folder, sorted as Go's os.ReadDir sorts them; empty when it cannot be listed. */
export async function list(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

export async function resolve(path: string): Promise<string | null> {
  try {
    return await realpath(path);
  } catch {
    return null;
  }
}

/** The last element of a link's target (an IOMMU group, a driver), or null. */
export async function linkBase(path: string): Promise<string | null> {
  try {
    return basename(await readlink(path));
  } catch {
    return null;
  }
}

/** A `1,3-5` list as numbers; null when malformed. */
export function parseRangedList(input: string): number[] | null {
  const out: number[] = [];
  for (const chunk of input.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(chunk.trim());
    if (!m) return null;
    const low = Number(m[1]);
    const high = m[2] === undefined ? low : Number(m[2]);
    for (let i = low; i <= high; i++) out.push(i);
  }
  return out;
}

/** The NUMA node a sysfs device or CPU folder links to (a `nodeN` entry with numastat); 0 when none. */
export async function sysfsNumaNode(path: string): Promise<number> {
  for (const name of await list(path)) {
    const m = /^node(\d+)$/.exec(name);
    if (m && (await exists(join(path, name, 'numastat')))) return Number(m[1]);
  }
  return 0;
}

/** A device's `numa_node` file, counting only positive values (-1 means none). */
export async function deviceNumaNode(devicePath: string): Promise<number> {
  const node = await readInt(join(devicePath, 'numa_node'));
  return node !== null && node > 0 ? node : 0;
}

/**
 * The folder holding a device's attributes: descends through `device`
 * links while they are folders (wwan and other nested devices).
 */
export async function deviceDir(devicePath: string): Promise<string> {
  let path = devicePath;
  // Bounded: a device chain is never deep, and a link loop must not spin.
  for (let depth = 0; depth < 16; depth++) {
    const next = join(path, 'device');
    try {
      if ((await stat(next)).isFile()) return path;
    } catch {
      return path;
    }
    path = next;
  }
  return path;
}

async function subsystemOf(path: string): Promise<string | null> {
  const target = await resolve(join(path, 'subsystem'));
  return target === null ? null : basename(target);
}

/** The PCI address a device sits on (through a virtio parent), or '' when not on PCI. */
export async function pciAddress(devicePath: string): Promise<string> {
  const dir = await deviceDir(devicePath);
  if (!(await exists(join(dir, 'subsystem')))) return '';
  let target = await resolve(dir);
  if (target === null) return '';
  let subsystem = await subsystemOf(target);
  if (subsystem === 'virtio') {
    target = dirname(target);
    subsystem = await subsystemOf(target);
  }
  return subsystem === 'pci' ? basename(target) : '';
}

/** The `bus:dev` of the USB device a sysfs device hangs from, or ''. */
export async function usbAddress(devicePath: string, sysRoot: string): Promise<string> {
  let path = await resolve(devicePath);
  if (path === null || !path.includes('/usb')) return '';
  while (path !== '/' && path !== '.' && path.length >= sysRoot.length) {
    const bus = await readInt(join(path, 'busnum'));
    const dev = await readInt(join(path, 'devnum'));
    if (bus !== null && dev !== null) return `${bus}:${dev}`;
    path = dirname(path);
  }
  return '';
}

/** The driver bound to a device and its version (the module's, else the kernel's); null when unbound. */
export async function driverOf(devicePath: string, host: Host): Promise<{ driver: string; version: string } | null> {
  const driverPath = join(devicePath, 'driver');
  if (!(await exists(driverPath))) return null;
  const target = await resolve(driverPath);
  if (target === null) return null;
  const version = await readTrim(join(driverPath, 'module', 'version'));
  return { driver: basename(target), version: version ?? host.kernelRelease };
}

/** The PCI parent of an SR-IOV virtual function (its `physfn` link), or null for a physical one. */
export async function physicalFunction(devicePath: string): Promise<string | null> {
  if (!(await exists(join(devicePath, 'physfn')))) return null;
  const target = await resolve(join(devicePath, 'physfn'));
  return target === null ? null : basename(target);
}
