/**
 * Turns a {@link QemuSpec} into what QEMU is started with: config-file
 * sections (written to `qemu.conf` and passed with `-readconfig`, as Incus
 * does) and the argv around them. Pure: no files are touched here.
 */
import { applyConfOverride, renderConf, type ConfSection } from './qemu-conf';
import type { QemuDrive, QemuNic, QemuPciDevice, QemuShare, QemuSpec, QemuUsbDevice } from './qemu-spec';
import { rawQemuReplacesFirmware, splitRawQemu } from './raw-qemu';
import { CONSOLE_CHARDEV, CONSOLE_RINGBUF_BYTES } from './qmp-commands';

/** The QEMU binary for x86_64 guests. */
export const QEMU_BINARY = 'qemu-system-x86_64';
/** The virtio-serial port name the guest agent listens on. */
export const AGENT_PORT_NAME = 'org.linuxcontainers.incus';

/** What to run: binary, argv (without the binary) and the config file's content. */
export interface QemuLaunch {
  binary: string;
  args: string[];
  /** The sections after `raw.qemu.conf` was applied. */
  sections: ConfSection[];
  /** `sections` rendered; write it to `spec.paths.conf`. */
  conf: string;
  /** incusd's descriptors QEMU inherits, in order, as its fds 3, 4, ... (macvtap NICs). */
  fds: number[];
}

/** The first descriptor number after stdin, stdout and stderr. */
const FIRST_INHERITED_FD = 3;

const ID_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** The QEMU id of a drive, NIC or share named `id` (`incus_<id>`; its device is `dev-incus_<id>`); throws on a name QEMU cannot take. */
export function qemuId(kind: string, id: string): string {
  const full = `incus_${id}`;
  if (!ID_RE.test(full)) throw new Error(`Invalid ${kind} name "${id}" for QEMU (letters, digits, "_", "." and "-" only)`);
  return full;
}

const onOff = (b: boolean | undefined): string => (b ? 'on' : 'off');

function baseSections(spec: QemuSpec): ConfSection[] {
  return [
    {
      name: 'machine',
      comment: 'Machine',
      entries: { type: spec.machine ?? 'q35', graphics: 'off', usb: 'off' },
    },
    { name: 'global', entries: { driver: 'ICH9-LPC', property: 'disable_s3', value: '1' } },
    { name: 'global', entries: { driver: 'ICH9-LPC', property: 'disable_s4', value: '0' } },
    { name: 'boot-opts', entries: { strict: 'on' } },
    {
      name: 'sandbox',
      comment: 'Syscall filtering',
      entries: { enable: 'on', obsolete: 'deny', elevateprivileges: 'allow', spawn: 'allow', resourcecontrol: 'deny' },
    },
  ];
}

function cpuMemorySections(spec: QemuSpec): ConfSection[] {
  if (!Number.isInteger(spec.cpus) || spec.cpus < 1) throw new RangeError(`Invalid vCPU count: ${spec.cpus}`);
  if (!Number.isFinite(spec.memoryBytes) || spec.memoryBytes < 32 * 1024 * 1024) {
    throw new RangeError(`Invalid memory size ${spec.memoryBytes}: a VM needs at least 32MiB`);
  }
  const mib = `${Math.ceil(spec.memoryBytes / (1024 * 1024))}M`;
  return [
    { name: 'smp-opts', comment: 'CPU', entries: { cpus: String(spec.cpus), sockets: '1', cores: String(spec.cpus), threads: '1' } },
    { name: 'memory', comment: 'Memory', entries: { size: mib } },
    // Shared memory so vhost-user devices (virtiofsd) can map guest RAM.
    { name: 'object "mem0"', entries: { 'qom-type': 'memory-backend-memfd', size: mib, share: 'on' } },
    { name: 'numa', entries: { type: 'node', nodeid: '0', memdev: 'mem0' } },
  ];
}

function controlSections(spec: QemuSpec): ConfSection[] {
  return [
    {
      name: 'chardev "monitor"',
      comment: 'Qemu control',
      entries: { backend: 'socket', path: spec.paths.monitor, server: 'on', wait: 'off' },
    },
    {
      name: `chardev "${CONSOLE_CHARDEV}"`,
      comment: 'Console',
      entries: { backend: 'ringbuf', size: String(CONSOLE_RINGBUF_BYTES) },
    },
    { name: 'device "dev-qemu_serial"', comment: 'Virtual serial bus', entries: { driver: 'virtio-serial-pci' } },
    {
      name: 'chardev "qemu_agent"',
      comment: 'Guest agent',
      entries: { backend: 'socket', path: spec.paths.agent, server: 'on', wait: 'off' },
    },
    {
      name: 'device "qemu_agent"',
      entries: { driver: 'virtserialport', name: AGENT_PORT_NAME, chardev: 'qemu_agent', bus: 'dev-qemu_serial.0' },
    },
    { name: 'object "qemu_rng"', comment: 'Entropy', entries: { 'qom-type': 'rng-random', filename: '/dev/urandom' } },
    { name: 'device "dev-qemu_rng"', entries: { driver: 'virtio-rng-pci', rng: 'qemu_rng' } },
  ];
}

function firmwareSections(fw: { code: string; nvram: string }): ConfSection[] {
  return [
    {
      name: 'drive',
      comment: 'Firmware (read only)',
      entries: { file: fw.code, if: 'pflash', format: 'raw', unit: '0', readonly: 'on' },
    },
    { name: 'drive', comment: 'Firmware settings (writable)', entries: { file: fw.nvram, if: 'pflash', format: 'raw', unit: '1' } },
  ];
}

function hotplugSections(count: number): ConfSection[] {
  const out: ConfSection[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      name: `device "qemu_pcie_hp${i}"`,
      comment: i === 0 ? 'Spare PCIe root ports for hot-plug' : undefined,
      entries: { driver: 'pcie-root-port', bus: 'pcie.0', chassis: String(i + 1), slot: '0' },
    });
  }
  return out;
}

function driveSections(drives: readonly QemuDrive[]): ConfSection[] {
  const out: ConfSection[] = [];
  if (drives.some((d) => d.bus === 'virtio-scsi')) {
    out.push({ name: 'device "qemu_scsi"', comment: 'SCSI controller', entries: { driver: 'virtio-scsi-pci' } });
  }
  let scsiId = 0;
  for (const d of drives) {
    const id = qemuId('disk', d.id);
    out.push({
      name: `drive "${id}"`,
      comment: `${d.id} drive`,
      entries: {
        file: d.file,
        format: d.format,
        if: 'none',
        cache: d.cache ?? 'writeback',
        readonly: onOff(d.readonly),
        discard: d.readonly ? '' : 'unmap',
      },
    });
    const dev: Record<string, string> = { drive: id, serial: d.serial ?? id };
    if (d.bus === 'virtio-scsi') {
      Object.assign(dev, { driver: 'scsi-hd', bus: 'qemu_scsi.0', channel: '0', 'scsi-id': String(scsiId++), lun: '1' });
    } else {
      dev.driver = 'virtio-blk-pci';
    }
    if (d.bootIndex !== undefined) dev.bootindex = String(d.bootIndex);
    out.push({ name: `device "dev-${id}"`, entries: dev });
  }
  return out;
}

/** NIC sections; a NIC with an inherited descriptor gets the next number from `fds` (see QemuLaunch.fds). */
function nicSections(nics: readonly QemuNic[], fds: number[]): ConfSection[] {
  const out: ConfSection[] = [];
  for (const n of nics) {
    const id = qemuId('NIC', n.id);
    if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(n.mac)) throw new Error(`Invalid MAC address "${n.mac}" for NIC "${n.id}"`);
    let how: Record<string, string> = { ifname: n.tap, script: 'no', downscript: 'no' };
    if (n.fd !== undefined) {
      how = { fd: String(FIRST_INHERITED_FD + fds.length) };
      fds.push(n.fd);
    }
    out.push({
      name: `netdev "${id}"`,
      comment: `${n.id} NIC`,
      entries: { type: 'tap', ...how, vhost: onOff(n.vhost) },
    });
    const dev: Record<string, string> = { driver: 'virtio-net-pci', netdev: id, mac: n.mac.toLowerCase() };
    if (n.bootIndex !== undefined) dev.bootindex = String(n.bootIndex);
    out.push({ name: `device "dev-${id}"`, entries: dev });
  }
  return out;
}

function shareSections(shares: readonly QemuShare[]): ConfSection[] {
  const out: ConfSection[] = [];
  for (const s of shares) {
    const id = qemuId('share', s.id);
    if (s.protocol === 'virtiofs') {
      if (!s.socket) throw new Error(`Share "${s.id}": virtiofs needs virtiofsd's socket`);
      out.push({ name: `chardev "${id}"`, comment: `${s.id} share (virtiofs)`, entries: { backend: 'socket', path: s.socket } });
      out.push({ name: `device "dev-${id}-virtio-fs"`, entries: { driver: 'vhost-user-fs-pci', chardev: id, tag: s.tag } });
    } else {
      if (!s.path) throw new Error(`Share "${s.id}": 9p needs a host path`);
      out.push({
        name: `fsdev "${id}"`,
        comment: `${s.id} share (9p)`,
        entries: { fsdriver: 'local', path: s.path, security_model: 'none', readonly: onOff(s.readonly) },
      });
      out.push({ name: `device "dev-${id}-9p"`, entries: { driver: 'virtio-9p-pci', fsdev: id, mount_tag: s.tag } });
    }
  }
  return out;
}

/** Chassis numbers of the passthrough root ports: apart from the hot-plug ports' (1, 2, ...). */
const PASSTHROUGH_CHASSIS = 64;

/** Each passed-through PCI function on a root port of its own, as vfio-pci (Incus's qemuPCIPhysical / qemuGPUDevPhysical). */
function pciPassthroughSections(devices: readonly QemuPciDevice[]): ConfSection[] {
  const out: ConfSection[] = [];
  for (const [i, d] of devices.entries()) {
    const id = qemuId('PCI device', d.id);
    if (!/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-9a-f]$/.test(d.host)) throw new Error(`Invalid host PCI address "${d.host}" for device "${d.id}"`);
    const port = `qemu_pcie_pt${i}`;
    out.push({
      name: `device "${port}"`,
      comment: `Root port for "${d.id}"`,
      entries: { driver: 'pcie-root-port', bus: 'pcie.0', chassis: String(PASSTHROUGH_CHASSIS + i), slot: '0' },
    });
    const dev: Record<string, string> = { driver: 'vfio-pci', bus: port, addr: '00.0', host: d.host };
    if (d.romBar === false) dev.rombar = '0';
    if (d.vga) dev['x-vga'] = 'on';
    out.push({ name: `device "dev-${id}"`, comment: `PCI card ("${d.id}" device)`, entries: dev });
  }
  return out;
}

/** An xHCI controller and a usb-host device per passed-through USB device. */
function usbPassthroughSections(devices: readonly QemuUsbDevice[]): ConfSection[] {
  if (devices.length === 0) return [];
  const out: ConfSection[] = [{ name: 'device "qemu_usb"', comment: 'USB controller', entries: { driver: 'qemu-xhci', p2: '8', p3: '8' } }];
  for (const d of devices) {
    const id = qemuId('USB device', d.id);
    out.push({
      name: `device "dev-${id}"`,
      comment: `USB device ("${d.id}")`,
      entries: { driver: 'usb-host', bus: 'qemu_usb.0', hostbus: String(d.hostBus), hostaddr: String(d.hostAddr) },
    });
  }
  return out;
}

function spiceSections(spec: QemuSpec): ConfSection[] {
  return [
    { name: 'spice', comment: 'SPICE', entries: { unix: 'on', 'disable-ticketing': 'on', addr: spec.paths.spice } },
    { name: 'device "qemu_gpu"', comment: 'Display', entries: { driver: 'virtio-vga' } },
    { name: 'device "qemu_keyboard"', entries: { driver: 'virtio-keyboard-pci' } },
    { name: 'device "qemu_tablet"', entries: { driver: 'virtio-tablet-pci' } },
    { name: 'chardev "qemu_spice-chardev"', comment: 'Spice agent', entries: { backend: 'spicevmc', name: 'vdagent' } },
    {
      name: 'device "qemu_spice"',
      entries: { driver: 'virtserialport', name: 'com.redhat.spice.0', chardev: 'qemu_spice-chardev', bus: 'dev-qemu_serial.0' },
    },
  ];
}

/**
 * Builds QEMU's config sections and argv for `spec`. The argv daemonizes
 * QEMU with its pidfile and log (see process.ts). Throws on invalid input
 * (bad ids or sizes, a malformed raw.qemu or raw.qemu.conf).
 */
export function buildQemuConfig(spec: QemuSpec): QemuLaunch {
  const raw = spec.rawQemu ? splitRawQemu(spec.rawQemu) : [];
  if (!spec.firmware && !rawQemuReplacesFirmware(raw)) {
    throw new Error('No UEFI firmware given and raw.qemu has neither -bios nor -kernel');
  }
  const fds: number[] = [];
  let sections: ConfSection[] = [
    ...baseSections(spec),
    ...cpuMemorySections(spec),
    ...(spec.firmware && !rawQemuReplacesFirmware(raw) ? firmwareSections(spec.firmware) : []),
    ...controlSections(spec),
    ...hotplugSections(spec.hotplugPorts ?? 4),
    ...driveSections(spec.drives),
    ...nicSections(spec.nics, fds),
    ...shareSections(spec.shares),
    ...pciPassthroughSections(spec.pciDevices ?? []),
    ...usbPassthroughSections(spec.usbDevices ?? []),
    ...(spec.spice ? spiceSections(spec) : []),
  ];
  if (spec.rawQemuConf) sections = applyConfOverride(sections, spec.rawQemuConf);
  const conf = renderConf(sections);

  const args = [
    ...(spec.startPaused ? ['-S'] : []),
    '-name',
    spec.name,
    '-uuid',
    spec.uuid,
    '-daemonize',
    ...spec.accel.args,
    '-nographic',
    '-serial',
    `chardev:${CONSOLE_CHARDEV}`,
    '-qmp',
    'chardev:monitor',
    '-nodefaults',
    '-no-user-config',
    '-readconfig',
    spec.paths.conf,
    '-pidfile',
    spec.paths.pidfile,
    '-D',
    spec.paths.log,
    '-smbios',
    'type=2,manufacturer=LinuxContainers,product=Incus',
    ...raw,
  ];
  return { binary: QEMU_BINARY, args, sections, conf, fds };
}
