/**
 * The machine (`system`): DMI strings of /sys/class/dmi/id (product,
 * firmware, chassis, motherboard) and whether this is a physical machine,
 * a VM or a container (systemd-detect-virt); after Incus's
 * shared/resources/system.go, without its lshw fallback.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { ResourcesSystem } from '../../api/resources';
import { exists, type Host, readInt, readTrim } from './host';

/** SMBIOS chassis types (DMTF spec, as Incus names them). */
const CHASSIS_TYPES = [
  '', 'Other', 'Unknown', 'Desktop', 'Low Profile Desktop', 'Pizza Box', 'Mini Tower', 'Tower', 'Portable', 'Laptop', 'Notebook',
  'Hand Held', 'Docking Station', 'All in One', 'Sub Notebook', 'Space-saving', 'Lunch Box', 'Main Server Chassis',
  'Expansion Chassis', 'SubChassis', 'Bus Expansion Chassis', 'Peripheral Chassis', 'RAID Chassis', 'Rack Mount Chassis',
  'Sealed-case PC', 'Multi-system chassis', 'Compact PCI', 'Advanced TCA', 'Blade', 'Blade Enclosure', 'Tablet',
  'Convertible', 'Detachable', 'IoT Gateway', 'Embedded PC', 'Mini PC', 'Stick PC',
];

/** The command's outcome: ran and exited 0, ran and failed, or is not installed. */
function run(cmd: string, args: string[]): Promise<'ok' | 'failed' | 'missing'> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000 }, (err) => {
      if (err === null) resolve('ok');
      else resolve((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'failed');
    });
  });
}

/** `container`, `virtual-machine`, `physical`, or `unknown` without systemd-detect-virt. */
export async function detectSystemType(): Promise<string> {
  const container = await run('systemd-detect-virt', ['--container']);
  if (container === 'missing') return 'unknown';
  if (container === 'ok') return 'container';
  return (await run('systemd-detect-virt', ['--vm'])) === 'ok' ? 'virtual-machine' : 'physical';
}

/** The `system` section; `type` is detected once by the caller. */
export async function readSystem(host: Host, type: string): Promise<ResourcesSystem> {
  const dmi = join(host.sys, 'class', 'dmi', 'id');
  const empty: ResourcesSystem = { uuid: '', vendor: '', product: '', family: '', version: '', sku: '', serial: '', type, firmware: null, chassis: null, motherboard: null };
  if (!(await exists(dmi))) return empty;
  const names = [
    'product_uuid', 'sys_vendor', 'product_name', 'product_family', 'product_version', 'product_sku', 'product_serial',
    'bios_vendor', 'bios_date', 'bios_version', 'chassis_vendor', 'chassis_serial', 'chassis_version',
    'board_vendor', 'board_name', 'board_serial', 'board_version',
  ] as const;
  // Serials and the UUID are root-only: unreadable ones stay empty.
  const values = await Promise.all(names.map((n) => readTrim(join(dmi, n))));
  const v = Object.fromEntries(names.map((n, i) => [n, values[i] ?? ''])) as Record<(typeof names)[number], string>;
  const chassisType = await readInt(join(dmi, 'chassis_type'));
  return {
    uuid: v.product_uuid,
    vendor: v.sys_vendor,
    product: v.product_name,
    family: v.product_family,
    version: v.product_version,
    sku: v.product_sku,
    serial: v.product_serial,
    type,
    firmware: { vendor: v.bios_vendor, date: v.bios_date, version: v.bios_version },
    chassis: { vendor: v.chassis_vendor, type: chassisType === null ? '' : (CHASSIS_TYPES[chassisType] ?? ''), serial: v.chassis_serial, version: v.chassis_version },
    motherboard: { vendor: v.board_vendor, product: v.board_name, serial: v.board_serial, version: v.board_version },
  };
}
