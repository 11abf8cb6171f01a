/**
 * Device hot-plug into a running VM over QMP. A device never knows it is
 * in a VM: its start() describes what it needs (devices/run-config.ts) and
 * the plugger here turns that into QEMU devices, as the driver does at VM
 * start. NIC: a tap on the bridge, netdev_add + virtio-net-pci on a free
 * spare PCIe root port; a raw disk (custom block volume): blockdev-add +
 * scsi-hd on the VM's virtio-scsi controller. Unplug: device_del, wait for
 * QEMU's DEVICE_DELETED (the guest has let go), then netdev_del /
 * blockdev-del and the tap. Shares (9p, virtiofs) and passthrough stay
 * start-time only.
 * Reference: QEMU's qapi/qdev.json, net.json, block-core.json, pci.json.
 */
import { statSync } from 'node:fs';
import { badRequest } from '../../../errors';
import type { DeviceRunConfig, DriveRequest, NicRequest } from '../../devices/run-config';
import type { DevicePlugger } from '../../devices/runner';
import { nicHostNames, nicInterfaceName } from '../../devices/nic-common';
import type { InstanceRuntime } from '../../interface';
import { qemuId } from './qemu-config';
import type { QemuDrive, QemuNic } from './qemu-spec';
import { QmpError, type QmpClient, type QmpEvent } from './qmp';
import * as cmd from './qmp-commands';
import { createTap, removeTaps } from './taps';

/** Device types a running VM takes (a disk only as a block volume; host-path shares need a restart). */
export const VM_HOTPLUG_TYPES: readonly string[] = ['disk', 'nic', 'none'];

/** How long the guest has to let go of a device after device_del (PCIe hot-unplug waits out an attention button). */
export const UNPLUG_TIMEOUT_MS = 30_000;

/** The spare PCIe root ports qemu-config.ts reserves for hot-plug (`qemu_pcie_hp<N>`). */
const HOTPLUG_PORT_PREFIX = 'qemu_pcie_hp';

/** What the driver put into a VM for one device, to take out again. */
export type PluggedDevice = { kind: 'nic'; nic: QemuNic } | { kind: 'drive'; id: string } | { kind: 'share' };

/** The running VM as the plugger sees it. */
export interface VmPlugState {
  qmp: QmpClient;
  /** The VM's NICs (their taps are removed when it stops): hot-plugged ones join, unplugged ones leave. */
  nics: QemuNic[];
  /** What each device put into the VM, by device name. */
  plugged: Map<string, PluggedDevice>;
  /** The VM's run directory (device nodes a NIC may need). */
  runDir: string;
}

/** A raw disk request as the QEMU drive both the start and hot-plug make of it. */
export function qemuDriveOf(d: DriveRequest): QemuDrive {
  return { id: d.device, file: d.source, format: 'raw', bus: 'virtio-scsi', readonly: d.readonly };
}

/** What each device put into a VM started with `needs` (`nics`: the QEMU NICs made of needs.nics, in order). */
export function pluggedAtStart(needs: Required<Pick<DeviceRunConfig, 'nics' | 'drives' | 'mounts'>>, nics: readonly QemuNic[]): Map<string, PluggedDevice> {
  const out = new Map<string, PluggedDevice>();
  for (const m of needs.mounts) if (m.device) out.set(m.device, { kind: 'share' });
  needs.nics.forEach((n, i) => out.set(n.device ?? n.name, { kind: 'nic', nic: nics[i]! }));
  for (const d of needs.drives) out.set(d.device, { kind: 'drive', id: d.device });
  return out;
}

/**
 * The same for a VM found again after a daemon restart, from its devices
 * (`inst` with the devices it was started with) and QEMU's device list.
 */
export async function pluggedAdopted(qmp: QmpClient, inst: InstanceRuntime): Promise<Map<string, PluggedDevice>> {
  const ids = new Set((await cmd.qomList(qmp, '/machine/peripheral')).map((c) => c.name));
  const taps = nicHostNames(inst);
  const out = new Map<string, PluggedDevice>();
  for (const [name, d] of Object.entries(inst.expandedDevices)) {
    if (d.type === 'nic') {
      const iface = nicInterfaceName(inst.expandedDevices, name);
      if (taps[iface]) out.set(name, { kind: 'nic', nic: { id: iface, tap: taps[iface]!, mac: d.hwaddr ?? '' } });
    } else if (d.type === 'disk' && d.source && d.path !== '/') {
      out.set(name, ids.has(`dev-${qemuId('disk', name)}`) ? { kind: 'drive', id: name } : { kind: 'share' });
    }
  }
  return out;
}

/** Plugs devices into a running VM and takes them out again (devices/runner.ts drives it). */
export class VmPlugger implements DevicePlugger {
  readonly types = VM_HOTPLUG_TYPES;

  constructor(private readonly vm: VmPlugState) {}

  async plug(name: string, config: DeviceRunConfig): Promise<void> {
    const other = Object.entries(config).some(([k, v]) => k !== 'nics' && k !== 'drives' && Array.isArray(v) && v.length > 0);
    const nics = config.nics ?? [];
    const drives = config.drives ?? [];
    if (other || nics.length + drives.length > 1 || nics.some((n) => n.kind !== 'veth')) {
      throw badRequest(`Device "${name}" cannot be added when instance is running`);
    }
    if (nics[0]) {
      const nic = await this.plugNic(nics[0]);
      this.vm.nics.push(nic);
      this.vm.plugged.set(name, { kind: 'nic', nic });
    } else if (drives[0]) {
      await plugDrive(this.vm.qmp, qemuDriveOf(drives[0]));
      this.vm.plugged.set(name, { kind: 'drive', id: drives[0].device });
    }
  }

  private async plugNic(req: NicRequest): Promise<QemuNic> {
    const nic = await createTap(req, req.name, this.vm.runDir);
    try {
      await plugNic(this.vm.qmp, nic);
      return nic;
    } catch (err) {
      await removeTaps([nic]);
      throw err;
    }
  }

  async unplug(name: string): Promise<void> {
    const p = this.vm.plugged.get(name);
    if (!p) return;
    if (p.kind === 'share') throw badRequest(`Device "${name}" cannot be removed when instance is running`);
    if (p.kind === 'nic') {
      await unplugNic(this.vm.qmp, p.nic.id);
      await removeTaps([p.nic]);
      const i = this.vm.nics.findIndex((n) => n.tap === p.nic.tap);
      if (i >= 0) this.vm.nics.splice(i, 1);
    } else {
      await unplugDrive(this.vm.qmp, p.id);
    }
    this.vm.plugged.delete(name);
  }
}

/** A spare PCIe root port with nothing behind it (as Incus picks one from query-pci). */
async function freePort(qmp: QmpClient): Promise<string> {
  const port = (await cmd.queryPci(qmp)).find((d) => d.id.startsWith(HOTPLUG_PORT_PREFIX) && d.behind?.length === 0);
  if (!port) throw new Error('No available PCI hotplug slots could be found');
  return port.id;
}

/** netdev_add of the NIC's tap, then virtio-net-pci on a free root port. */
async function plugNic(qmp: QmpClient, nic: QemuNic): Promise<void> {
  const id = qemuId('NIC', nic.id);
  await cmd.netdevAddTap(qmp, id, nic.tap, nic.vhost ?? false);
  try {
    const bus = await freePort(qmp);
    await cmd.deviceAdd(qmp, { driver: 'virtio-net-pci', id: `dev-${id}`, netdev: id, mac: nic.mac.toLowerCase(), bus, addr: '00.0' });
  } catch (err) {
    await cmd.netdevDel(qmp, id).catch(() => undefined);
    throw err;
  }
}

async function unplugNic(qmp: QmpClient, nicId: string): Promise<void> {
  const id = qemuId('NIC', nicId);
  await deviceDelAndWait(qmp, `dev-${id}`);
  await cmd.netdevDel(qmp, id).catch(ignoreMissing);
}

/** blockdev-add of the raw disk, then scsi-hd on the VM's virtio-scsi controller (QEMU picks a free target). */
async function plugDrive(qmp: QmpClient, d: QemuDrive): Promise<void> {
  const id = qemuId('disk', d.id);
  let hostDevice: boolean;
  try {
    hostDevice = statSync(d.file).isBlockDevice();
  } catch {
    throw new Error(`Missing disk "${d.file}"`);
  }
  await cmd.blockdevAddRaw(qmp, id, d.file, { hostDevice, readonly: d.readonly === true });
  try {
    await cmd.deviceAdd(qmp, { driver: 'scsi-hd', id: `dev-${id}`, bus: 'qemu_scsi.0', channel: 0, lun: 1, drive: id, serial: d.serial ?? id });
  } catch (err) {
    await cmd.blockdevDel(qmp, id).catch(() => undefined);
    throw err;
  }
}

/** device_del and wait; then the hot-plugged node goes (a drive from the VM's start goes with its device). */
async function unplugDrive(qmp: QmpClient, driveId: string): Promise<void> {
  const id = qemuId('disk', driveId);
  await deviceDelAndWait(qmp, `dev-${id}`);
  await cmd.blockdevDel(qmp, id).catch(ignoreMissing);
}

/** A node or netdev that is not there (a start-time drive's, removed with its device) is no failure. */
function ignoreMissing(err: unknown): void {
  if (err instanceof QmpError && /not found|Failed to find/i.test(err.message)) return;
  throw err;
}

/**
 * device_del, then waits for QEMU's DEVICE_DELETED for that id: only then
 * has the guest let go, and the backend can go. A device already gone is
 * success; a guest that does not let go within UNPLUG_TIMEOUT_MS is an error.
 */
export async function deviceDelAndWait(qmp: QmpClient, id: string, timeoutMs = UNPLUG_TIMEOUT_MS): Promise<void> {
  let onEvent!: (e: QmpEvent) => void;
  let timer: NodeJS.Timeout | undefined;
  const deleted = new Promise<void>((resolve, reject) => {
    onEvent = (e) => {
      if (e.data.device === id) resolve();
    };
    qmp.on('DEVICE_DELETED', onEvent);
    qmp.closed.then(() => reject(new Error('QEMU went away while removing the device')), () => undefined);
    timer = setTimeout(() => reject(new Error(`The guest did not release the device within ${timeoutMs / 1000}s`)), timeoutMs);
  });
  // Never an unhandled rejection when device_del itself fails first.
  deleted.catch(() => undefined);
  try {
    try {
      await cmd.deviceDel(qmp, id);
    } catch (err) {
      if (err instanceof QmpError && err.errorClass === 'DeviceNotFound') return;
      throw err;
    }
    await deleted;
  } finally {
    clearTimeout(timer);
    qmp.off('DEVICE_DELETED', onEvent);
  }
}
