/**
 * Disks (`storage`): block devices of /sys/class/block backed by a device
 * (partitions, loop and zram devices are not), their partitions, udev's
 * properties (/run/udev/data) and /dev/disk/by-path, by-id links; after
 * Incus's shared/resources/storage.go. The block size is the queue's
 * physical_block_size, which is what Incus's BLKPBSZGET returns.
 */
import { basename, join } from 'node:path';
import type { ResourcesStorage, ResourcesStorageDisk, ResourcesStorageDiskPartition } from '../../api/resources';
import { deviceNumaNode, exists, type Host, list, pciAddress, readInt, readTrim, resolve, usbAddress } from './host';

/** A udev database entry's `E:` properties. */
export function parseUdevData(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('E:')) continue;
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(2, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

/** udev's `\x20` escapes undone. */
export function udevDecode(s: string): string {
  return s.replace(/\\x([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** The name of the link in `dir` that points at /dev/<name> (the last one, as Incus keeps). */
async function linkTo(dir: string, target: string): Promise<string> {
  let found = '';
  for (const name of await list(dir)) {
    if ((await resolve(join(dir, name))) === target) found = name;
  }
  return found;
}

async function readPartitions(root: string, disk: string, names: string[]): Promise<ResourcesStorageDiskPartition[]> {
  const out: ResourcesStorageDiskPartition[] = [];
  for (const name of names) {
    if (!name.startsWith(disk)) continue;
    const path = join(root, name);
    const partition = await readInt(join(path, 'partition'));
    if (partition === null) continue;
    out.push({
      id: name,
      device: (await readTrim(join(path, 'dev'))) ?? '',
      read_only: (await readInt(join(path, 'ro'))) === 1,
      size: ((await readInt(join(path, 'size'))) ?? 0) * 512,
      partition,
    });
  }
  return out;
}

/** Fills type, serial, model, firmware and rpm from udev's database. */
function applyUdev(props: Map<string, string>, d: Partial<ResourcesStorageDisk>): void {
  if (props.get('ID_CDROM') === '1') d.type = 'cdrom';
  else if (props.get('ID_USB_DRIVER') === 'usb-storage') d.type = 'usb';
  else if (props.get('ID_ATA_SATA') === '1') d.type = 'sata';
  const revision = props.get('ID_REVISION');
  if (revision && !d.firmware_version) d.firmware_version = revision;
  const serial = props.get('SCSI_IDENT_SERIAL') || props.get('ID_SCSI_SERIAL') || props.get('ID_SERIAL_SHORT') || props.get('ID_SERIAL') || '';
  d.serial = serial;
  const encoded = props.get('ID_MODEL_ENC');
  if (encoded) d.model = udevDecode(encoded).trim();
  else if (props.get('ID_MODEL')) d.model = props.get('ID_MODEL');
  const rpm = props.get('ID_ATA_ROTATION_RATE_RPM');
  if (rpm && /^\d+$/.test(rpm) && !d.rpm) d.rpm = Number(rpm);
}

async function readDisk(host: Host, root: string, name: string, names: string[]): Promise<ResourcesStorageDisk | null> {
  const entry = join(root, name);
  const devicePath = join(entry, 'device');
  // Multipath members have no node of their own.
  const dev = await readTrim(join(entry, 'dev'));
  if (dev === null) return null;
  const subsystem = (await exists(join(devicePath, 'subsystem'))) ? await resolve(join(devicePath, 'subsystem')) : null;
  const type = subsystem === null ? '' : basename(subsystem);
  // rbd devices are not local disks.
  if (type === 'rbd') return null;

  const d: Partial<ResourcesStorageDisk> = { id: name, device: dev, type, rpm: 0 };
  const firmware = await readTrim(join(devicePath, 'firmware_rev'));
  if (firmware) d.firmware_version = firmware;
  const model = await readTrim(join(devicePath, 'model'));
  if (model !== null) d.model = model;
  d.read_only = (await readInt(join(entry, 'ro'))) === 1;
  d.size = ((await readInt(join(entry, 'size'))) ?? 0) * 512;
  d.removable = (await readInt(join(entry, 'removable'))) === 1;
  const wwn = await readTrim(join(entry, 'wwid'));
  if (wwn) d.wwn = wwn;
  // CD-ROM drives report 0x1fffff sectors without media.
  if (name.startsWith('sr') && d.removable) {
    d.type = 'cdrom';
    if (d.size === 0x1fffff * 512) d.size = 0;
  }
  const devNode = join(host.dev, name);
  d.device_path = await linkTo(join(host.dev, 'disk', 'by-path'), devNode);
  d.device_id = await linkTo(join(host.dev, 'disk', 'by-id'), devNode);
  d.block_size = (await readInt(join(entry, 'queue', 'physical_block_size'))) ?? 0;
  const udev = await readTrim(join(host.run, 'udev', 'data', `b${dev}`));
  if (udev !== null) applyUdev(parseUdevData(udev), d);
  if (!d.rpm) d.rpm = (await readInt(join(entry, 'queue', 'rotational'))) ?? 0;

  const partitions = await readPartitions(root, name, names);
  const pci = await pciAddress(devicePath);
  const usb = await usbAddress(devicePath, host.sys);
  const opt = <K extends keyof ResourcesStorageDisk>(k: K) => (d[k] ? { [k]: d[k] } : {});
  // Incus's field order, empty optional fields left out.
  return {
    id: name,
    device: dev,
    ...opt('model'),
    ...opt('type'),
    read_only: d.read_only ?? false,
    size: d.size ?? 0,
    removable: d.removable ?? false,
    ...opt('wwn'),
    numa_node: await deviceNumaNode(devicePath),
    ...opt('device_path'),
    block_size: d.block_size ?? 0,
    ...opt('firmware_version'),
    rpm: d.rpm ?? 0,
    ...opt('serial'),
    device_id: d.device_id ?? '',
    partitions,
    ...(pci ? { pci_address: pci } : {}),
    ...(usb ? { usb_address: usb } : {}),
  };
}

/** The `storage` section. */
export async function readStorage(host: Host): Promise<ResourcesStorage> {
  const root = join(host.sys, 'class', 'block');
  const names = await list(root);
  const withDevice = [];
  for (const name of names) if (await exists(join(root, name, 'device'))) withDevice.push(name);
  const disks = (await Promise.all(withDevice.map((n) => readDisk(host, root, n, names)))).filter((d): d is ResourcesStorageDisk => d !== null);
  const total = disks.reduce((n, d) => n + 1 + d.partitions.length, 0);
  return { disks, total };
}
