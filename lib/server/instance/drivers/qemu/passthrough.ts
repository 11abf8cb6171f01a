/**
 * Host devices handed to a VM whole. PCI functions are taken from their
 * host driver and bound to vfio-pci before QEMU starts (driver_override,
 * unbind, drivers_probe, as Incus's pcidev does), and given back after the
 * VM has stopped; what was taken is written to `passthrough.json` in the
 * VM's run directory first, so a daemon that restarted (or crashed mid-way)
 * still gives every function back. USB devices need no host preparation:
 * QEMU's usb-host opens them. Sysfs and /dev roots are parameters for tests.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StatusError, badRequest } from '../../../errors';
import { runTool } from '../../../network/tool';
import type { PciPassthroughRequest, UsbPassthroughRequest } from '../../devices/run-config';
import { iommuGroupCount, pciDevicePath, readPciFunction } from '../../devices/pci-sysfs';
import type { QemuPciDevice, QemuUsbDevice } from './qemu-spec';

const VFIO_DRIVER = 'vfio-pci';
/** How long a probed function may take to show up under its new driver (Incus: 10 × 50 ms). */
const PROBE_WAIT_MS = 500;

/** Where the host is; tests point the roots at fixture trees and stub modprobe. */
export interface PassthroughHost {
  sysRoot: string;
  devRoot: string;
  /** Loads a kernel module (`modprobe NAME`). */
  loadModule(name: string): Promise<void>;
}

export const REAL_HOST: PassthroughHost = {
  sysRoot: '/sys',
  devRoot: '/dev',
  loadModule: async (name) => {
    await runTool('modprobe', [name]);
  },
};

/** A function taken from the host: its address and the driver it had (empty: none). */
export interface VfioBinding {
  address: string;
  driver: string;
}

/** The record of what a VM took from the host. */
export function passthroughStateFile(runDir: string): string {
  return join(runDir, 'passthrough.json');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function boundTo(sysRoot: string, driver: string, address: string): Promise<boolean> {
  for (let waited = 0; ; waited += 50) {
    if (existsSync(join(sysRoot, 'bus', 'pci', 'drivers', driver, address))) return true;
    if (waited >= PROBE_WAIT_MS) return false;
    await sleep(50);
  }
}

/** Detaches `address` from its current driver, if it has one. */
async function unbind(sysRoot: string, address: string): Promise<void> {
  const path = join(pciDevicePath(sysRoot, address), 'driver', 'unbind');
  if (existsSync(path)) await writeFile(path, address);
}

/** Points the function at `driver` ('' clears the override) and asks the kernel to probe it. */
async function overrideAndProbe(sysRoot: string, address: string, driver: string): Promise<void> {
  // The newline lets an empty value clear the override.
  await writeFile(join(pciDevicePath(sysRoot, address), 'driver_override'), `${driver}\n`);
  await writeFile(join(sysRoot, 'bus', 'pci', 'drivers_probe'), address);
}

/** Gives one function back to its host driver (best effort; returns a problem, if any). */
async function giveBack(sysRoot: string, b: VfioBinding): Promise<string | null> {
  try {
    if (!existsSync(pciDevicePath(sysRoot, b.address))) return null;
    if (b.driver === VFIO_DRIVER) return null;
    await unbind(sysRoot, b.address);
    await overrideAndProbe(sysRoot, b.address, '');
    if (b.driver && !(await boundTo(sysRoot, b.driver, b.address))) return `${b.address} did not return to driver "${b.driver}"`;
    return null;
  } catch (err) {
    return `${b.address}: ${(err as Error).message}`;
  }
}

async function writeState(file: string, list: VfioBinding[]): Promise<void> {
  await writeFile(file, `${JSON.stringify(list)}\n`, { mode: 0o600 });
}

/**
 * Binds every requested PCI function to vfio-pci, recording each before it
 * is touched; on a failure, gives back what was taken and throws (a 400
 * for what the host cannot do, naming the device).
 */
export async function bindVfio(requests: readonly PciPassthroughRequest[], stateFile: string, host: PassthroughHost = REAL_HOST): Promise<VfioBinding[]> {
  const taken: VfioBinding[] = [];
  // What a run that crashed took and never gave back goes back first (its record is about to be replaced).
  await releaseVfio(stateFile, host);
  if (requests.length === 0) return taken;
  const { sysRoot, devRoot } = host;
  await mkdir(dirname(stateFile), { recursive: true, mode: 0o700 });
  try {
    for (const req of requests) {
      const fail = (msg: string): StatusError => badRequest(`Failed to start device "${req.device}": ${msg}`);
      if (taken.some((b) => b.address === req.address)) continue;
      const fn = readPciFunction(sysRoot, req.address);
      if (!fn) throw fail(`Invalid PCI address (no device found): ${req.address}`);
      // Checked again here: the device's start ran before, but the host may have changed.
      if (iommuGroupCount(sysRoot) === 0 || fn.iommuGroup === null) throw fail(`Cannot pass PCI device ${req.address} through: the host has no IOMMU`);
      if (!existsSync(join(sysRoot, 'bus', 'pci', 'drivers', VFIO_DRIVER))) {
        await host.loadModule(VFIO_DRIVER).catch((err: Error) => {
          throw fail(`Error loading "${VFIO_DRIVER}" module: ${err.message}`);
        });
      }
      const binding = { address: req.address, driver: fn.driver };
      taken.push(binding);
      await writeState(stateFile, taken);
      if (fn.driver !== VFIO_DRIVER) {
        await unbind(sysRoot, req.address);
        await overrideAndProbe(sysRoot, req.address, VFIO_DRIVER);
        if (!(await boundTo(sysRoot, VFIO_DRIVER, req.address))) {
          throw fail(`Device took too long to activate at "${join(sysRoot, 'bus', 'pci', 'drivers', VFIO_DRIVER, req.address)}"`);
        }
      }
      if (!existsSync(join(devRoot, 'vfio', 'vfio')) || !existsSync(join(devRoot, 'vfio', String(fn.iommuGroup)))) {
        throw fail(`VFIO is not available on this host (no ${join(devRoot, 'vfio', String(fn.iommuGroup))})`);
      }
    }
    return taken;
  } catch (err) {
    await releaseVfio(stateFile, host);
    throw err;
  }
}

/**
 * Gives back every function a VM took (read from its state file), then
 * removes the file; returns the problems met, if any. Nothing recorded:
 * nothing to do.
 */
export async function releaseVfio(stateFile: string, host: Pick<PassthroughHost, 'sysRoot'> = REAL_HOST): Promise<string[]> {
  let list: VfioBinding[];
  try {
    list = JSON.parse(await readFile(stateFile, 'utf8')) as VfioBinding[];
  } catch {
    return [];
  }
  const problems: string[] = [];
  for (const b of [...list].reverse()) {
    const p = await giveBack(host.sysRoot, b);
    if (p) problems.push(p);
  }
  await rm(stateFile, { force: true });
  return problems;
}

/** The PCI requests as QEMU devices: a device's first function is `<device>`, its others `<device>_<n>`. */
export function qemuPciDevices(requests: readonly PciPassthroughRequest[]): QemuPciDevice[] {
  const seen = new Map<string, number>();
  return requests.map((r) => {
    const n = seen.get(r.device) ?? 0;
    seen.set(r.device, n + 1);
    return { id: n === 0 ? r.device : `${r.device}_${n}`, host: r.address, romBar: r.romBar ?? true, vga: r.vga ?? false };
  });
}

/** The USB requests as QEMU devices, named as Incus names them: `<device>-BBB-DDD`. */
export function qemuUsbDevices(requests: readonly UsbPassthroughRequest[]): QemuUsbDevice[] {
  const pad = (n: number): string => String(n).padStart(3, '0');
  return requests.map((r) => ({ id: `${r.device}-${pad(r.bus)}-${pad(r.address)}`, hostBus: r.bus, hostAddr: r.address }));
}
