/**
 * Typed wrappers for the QMP commands the QEMU driver uses: run state,
 * power, the serial console's ring buffer and backend swap, the figures
 * `incus info` shows, and device hot-plug (device_add/del, netdev,
 * blockdev, query-pci). Names and arguments are QEMU's (qapi/*.json).
 */
import type { QmpClient } from './qmp';

/** The chardev id of the serial console (a ring buffer while nobody is attached). */
export const CONSOLE_CHARDEV = 'console';
/** Ring buffer size of the console chardev, as Incus uses. */
export const CONSOLE_RINGBUF_BYTES = 1048576;

/** QEMU's RunState (query-status), e.g. `running`, `paused`, `shutdown`, `prelaunch`, `inmigrate`. */
export interface QemuStatus {
  status: string;
  running: boolean;
}

/** query-status. */
export function queryStatus(qmp: QmpClient): Promise<QemuStatus> {
  return qmp.execute<QemuStatus>('query-status');
}

/** ACPI power button press (the guest decides whether to shut down). */
export async function powerdown(qmp: QmpClient): Promise<void> {
  await qmp.execute('system_powerdown');
}

/** Asks QEMU to exit at once. The connection closing first is success, not an error. */
export async function quit(qmp: QmpClient): Promise<void> {
  try {
    await qmp.execute('quit');
  } catch (err) {
    if (qmp.isOpen) throw err;
  }
}

/** Pauses the vCPUs (`incus pause` / freeze). */
export async function pause(qmp: QmpClient): Promise<void> {
  await qmp.execute('stop');
}

/** Resumes the vCPUs (unfreeze, or the start of a VM launched with -S). */
export async function resume(qmp: QmpClient): Promise<void> {
  await qmp.execute('cont');
}

/** Hard reset of the machine (`incus restart --force` without a new process). */
export async function reset(qmp: QmpClient): Promise<void> {
  await qmp.execute('system_reset');
}

/** Thrown by {@link ringbufRead} when the chardev is attached to a socket, not a ring buffer. */
export class NotARingbufError extends Error {
  constructor(device: string) {
    super(`Chardev ${device} is not a ring buffer`);
    this.name = 'NotARingbufError';
  }
}

/**
 * Drains a ring buffer chardev (the console log). Reading consumes: the
 * caller appends what it gets to the console log file.
 */
export async function ringbufRead(qmp: QmpClient, device: string = CONSOLE_CHARDEV): Promise<string> {
  const chardevs = await qmp.execute<Array<{ label: string; filename: string }>>('query-chardev');
  const dev = chardevs.find((c) => c.label === device);
  if (!dev) throw new Error(`Specified qemu device "${device}" doesn't exist`);
  if (dev.filename !== 'ringbuf') throw new NotARingbufError(device);
  let out = '';
  for (;;) {
    const chunk = await qmp.execute<string>('ringbuf-read', { device, size: 65536, format: 'utf8' });
    if (chunk.length === 0) return out;
    out += chunk;
  }
}

/**
 * Swaps the console chardev onto a listening Unix socket at `path` (QEMU
 * creates it), so one client can attach for `incus console`. Drain the ring
 * buffer first: the swap discards it.
 */
export async function consoleToSocket(qmp: QmpClient, path: string): Promise<void> {
  await qmp.execute('chardev-change', {
    id: CONSOLE_CHARDEV,
    backend: {
      type: 'socket',
      data: { addr: { type: 'unix', data: { path } }, server: true, wait: false },
    },
  });
}

/** Swaps the console chardev back onto a ring buffer (after `incus console` detaches). */
export async function consoleToRingbuf(qmp: QmpClient): Promise<void> {
  await qmp.execute('chardev-change', {
    id: CONSOLE_CHARDEV,
    backend: { type: 'ringbuf', data: { size: CONSOLE_RINGBUF_BYTES } },
  });
}

/** One vCPU as query-cpus-fast reports it. */
export interface QemuVcpu {
  index: number;
  /** Host thread id of the vCPU (for pinning and per-vCPU accounting). */
  threadId: number;
}

/** query-cpus-fast: the vCPUs and their host thread ids. */
export async function queryVcpus(qmp: QmpClient): Promise<QemuVcpu[]> {
  const cpus = await qmp.execute<Array<{ 'cpu-index': number; 'thread-id': number }>>('query-cpus-fast');
  return cpus.map((c) => ({ index: c['cpu-index'], threadId: c['thread-id'] }));
}

/** query-memory-size-summary: guest RAM in bytes (base plus hot-plugged). */
export async function queryMemoryBytes(qmp: QmpClient): Promise<number> {
  const m = await qmp.execute<{ 'base-memory': number; 'plugged-memory'?: number }>('query-memory-size-summary');
  return m['base-memory'] + (m['plugged-memory'] ?? 0);
}

/** device_add: `props` are the device's properties (`driver`, `id`, `bus`...), typed as QEMU types them. */
export async function deviceAdd(qmp: QmpClient, props: Record<string, unknown>): Promise<void> {
  await qmp.execute('device_add', props);
}

/**
 * device_del: asks the guest to let the device go. It is gone only once
 * QEMU sends DEVICE_DELETED for it (see hotplug.ts).
 */
export async function deviceDel(qmp: QmpClient, id: string): Promise<void> {
  await qmp.execute('device_del', { id });
}

/** netdev_add of a tap QEMU opens by name (`ifname`), no scripts. */
export async function netdevAddTap(qmp: QmpClient, id: string, ifname: string, vhost: boolean): Promise<void> {
  await qmp.execute('netdev_add', { type: 'tap', id, ifname, script: 'no', downscript: 'no', vhost });
}

/** netdev_del. */
export async function netdevDel(qmp: QmpClient, id: string): Promise<void> {
  await qmp.execute('netdev_del', { id });
}

/** blockdev-add of a raw image (`file`: a regular file; `host_device`: a block device) as node `nodeName`. */
export async function blockdevAddRaw(qmp: QmpClient, nodeName: string, filename: string, opts: { hostDevice: boolean; readonly: boolean }): Promise<void> {
  await qmp.execute('blockdev-add', {
    driver: 'raw',
    'node-name': nodeName,
    'read-only': opts.readonly,
    discard: 'unmap',
    file: { driver: opts.hostDevice ? 'host_device' : 'file', filename, 'read-only': opts.readonly },
  });
}

/** blockdev-del of a node nothing uses any more. */
export async function blockdevDel(qmp: QmpClient, nodeName: string): Promise<void> {
  await qmp.execute('blockdev-del', { 'node-name': nodeName });
}

/** One PCI function as query-pci reports it (the fields the driver reads). */
export interface QemuPciDevice {
  /** The device's QEMU id (`qdev_id`), empty for built-in ones. */
  id: string;
  /** For a bridge or root port: the ids of the devices behind it. */
  behind?: string[];
}

/** query-pci: the functions on the root bus, each bridge with what sits behind it. */
export async function queryPci(qmp: QmpClient): Promise<QemuPciDevice[]> {
  type Dev = { qdev_id?: string; pci_bridge?: { devices?: Dev[] } };
  const buses = await qmp.execute<Array<{ bus: number; devices: Dev[] }>>('query-pci');
  return buses.flatMap((b) =>
    b.devices.map((d) => ({ id: d.qdev_id ?? '', behind: d.pci_bridge ? (d.pci_bridge.devices ?? []).map((c) => c.qdev_id ?? '') : undefined })),
  );
}

/** qom-list: the children and properties of a QOM path (e.g. `/machine/peripheral`: the devices with ids). */
export async function qomList(qmp: QmpClient, path: string): Promise<Array<{ name: string; type: string }>> {
  return qmp.execute<Array<{ name: string; type: string }>>('qom-list', { path });
}
