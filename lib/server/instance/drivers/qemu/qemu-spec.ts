/**
 * The driver-neutral description of one VM run that {@link buildQemuConfig}
 * turns into QEMU's config file and argv. The instance layer fills it from
 * the expanded config and the devices' run configuration; nothing here is
 * QEMU syntax.
 */
import type { AcceleratorChoice } from './accelerator';
import type { QemuPaths } from './paths';

/** A block device given to the guest. */
export interface QemuDrive {
  /** Device name (e.g. `root`); becomes the QEMU ids `incus_<id>` / `dev-incus_<id>`. */
  id: string;
  /** Image file or block device on the host. */
  file: string;
  format: 'raw' | 'qcow2';
  bus: 'virtio-scsi' | 'virtio-blk';
  /** UEFI boot order (`boot.priority`, lower boots first); omit for non-boot disks. */
  bootIndex?: number;
  readonly?: boolean;
  /** Host cache mode (default `writeback`; `none` needs O_DIRECT, which tmpfs lacks). */
  cache?: 'none' | 'writeback' | 'writethrough' | 'unsafe' | 'directsync';
  /** Serial shown to the guest (`/dev/disk/by-id/*incus_<id>`); default `incus_<id>`. */
  serial?: string;
}

/** A network interface backed by a host tap device the caller created. */
export interface QemuNic {
  /** Device name (e.g. `eth0`). */
  id: string;
  /** Host tap (or macvtap) interface name, already up. */
  tap: string;
  /** An open descriptor of the tap's device in incusd (macvtap): QEMU inherits it instead of opening `tap` by name. */
  fd?: number;
  mac: string;
  /** vhost-net acceleration; false where /dev/vhost-net is absent. */
  vhost?: boolean;
  bootIndex?: number;
}

/** A host directory shared into the guest. */
export interface QemuShare {
  /** Device name (e.g. `data`). */
  id: string;
  /** Mount tag the guest mounts by. */
  tag: string;
  /** virtiofs (needs a running virtiofsd on `socket`) or 9p (QEMU serves `path` itself). */
  protocol: 'virtiofs' | '9p';
  /** virtiofs: virtiofsd's vhost-user socket. */
  socket?: string;
  /** 9p: the host directory. */
  path?: string;
  readonly?: boolean;
}

/** A host PCI function given whole to the guest (VFIO); already bound to vfio-pci. */
export interface QemuPciDevice {
  /** Device name (e.g. `gpu0`, or `gpu0_1` for a card's second function). */
  id: string;
  /** Host PCI address (0000:01:00.0). */
  host: string;
  /** Expose the card's option ROM (default true). */
  romBar?: boolean;
  /** The guest's VGA device (`x-vga`): the host's boot VGA card. */
  vga?: boolean;
}

/** A host USB device given to the guest (usb-host on the xHCI controller). */
export interface QemuUsbDevice {
  /** Device name with the host bus and address (e.g. `usb0-001-004`). */
  id: string;
  hostBus: number;
  hostAddr: number;
}

/** Everything one QEMU run needs. */
export interface QemuSpec {
  /** Instance name (QEMU's `-name`). */
  name: string;
  uuid: string;
  /** vCPUs (`limits.cpu`: a count, or the length of a pinned list). */
  cpus: number;
  /** Host CPUs to pin vCPU threads to (`limits.cpu=0,2`); applied after start, not by QEMU. */
  pinnedHostCpus?: number[];
  /** Guest RAM in bytes (`limits.memory`); rounded up to MiB. */
  memoryBytes: number;
  accel: AcceleratorChoice;
  /** UEFI code image + NVRAM; null when raw.qemu brings `-bios`/`-kernel`. */
  firmware: { code: string; nvram: string } | null;
  /** Machine type (default `q35`). */
  machine?: string;
  paths: QemuPaths;
  drives: QemuDrive[];
  nics: QemuNic[];
  shares: QemuShare[];
  /** PCI passthrough (VFIO), each on its own root port. */
  pciDevices?: QemuPciDevice[];
  /** USB passthrough; an xHCI controller is added when there is any. */
  usbDevices?: QemuUsbDevice[];
  /** Add SPICE on `paths.spice` and a virtio-vga display (`incus console --type vga`). */
  spice?: boolean;
  /** Spare PCIe root ports for hot-plugged devices (default 4). */
  hotplugPorts?: number;
  /** Start with vCPUs stopped (`-S`); the caller resumes with `cont`. */
  startPaused?: boolean;
  /** `raw.qemu`: extra argv words, shell-split. */
  rawQemu?: string;
  /** `raw.qemu.conf`: override of the generated config sections. */
  rawQemuConf?: string;
}
