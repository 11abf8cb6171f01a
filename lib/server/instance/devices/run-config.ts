/**
 * What a device needs from the instance driver when the instance starts,
 * as data: the driver translates it to its own syntax (liblxc config keys
 * for containers, QEMU devices for VMs). Devices never emit driver syntax.
 */

/** A host path made visible inside the instance. */
export interface MountRequest {
  /** Host path (a prepared device node, a staged volume, a host directory or file). */
  source: string;
  /** Absolute path inside the instance. */
  target: string;
  /** What `source` is: the mount point is created as a directory or a file. */
  kind: 'dir' | 'file';
  recursive?: boolean;
  readonly?: boolean;
  /** Mount propagation (shared, slave, private, and their r- forms). */
  propagation?: string;
  /** Mounted through the instance's id map (containers on an idmapped rootfs). */
  idmap?: boolean;
  /** The device asking for it (VMs name the share's mount tag after it). */
  device?: string;
  /** A new filesystem of this type (source names it, as in fstab: `tmpfs`) instead of a bind; containers only. */
  fstype?: string;
  /** That filesystem's mount options. */
  options?: string[];
}

/** A network interface of the instance. */
export interface NicRequest {
  /** Interface name inside the instance. */
  name: string;
  /** Position among the instance's NICs (devices sorted by name). */
  index: number;
  /**
   * veth: a host-side peer (bridged onto `link`, or routed); macvlan: on
   * parent `link`; phys: the host interface `link` moved in.
   */
  kind: 'veth' | 'macvlan' | 'phys';
  hwaddr: string;
  mtu?: string;
  /** The bridge (veth), parent (macvlan) or host interface (phys). */
  link?: string;
  /** The host-side interface name (veth; a VM's macvtap for macvlan). */
  hostName?: string;
  /** The device asking for it (errors name it). */
  device?: string;
  /** veth only: `router` for routed NICs (no bridge, proxy neighbours on the host). */
  vethMode?: 'bridge' | 'router';
  macvlanMode?: string;
  /** Static addresses given inside the instance, with their prefix length (routed NICs). */
  ipv4Addresses?: string[];
  ipv6Addresses?: string[];
  ipv4Gateway?: string;
  ipv6Gateway?: string;
}

/** A device-number rule for the devices cgroup (containers). */
export interface CgroupDeviceRule {
  type: 'c' | 'b';
  major: number;
  minor: number;
}

/**
 * A host PCI function handed to a VM whole (VFIO): the driver binds it to
 * vfio-pci before the VM starts and gives it back to its host driver after.
 */
export interface PciPassthroughRequest {
  /** The device asking for it (names the guest device). */
  device: string;
  /** Host PCI address in sysfs form (0000:01:00.0). */
  address: string;
  /** Expose the card's option ROM (`firmware`, default true). */
  romBar?: boolean;
  /** The card is the host's boot VGA device: passed as the guest's VGA (`x-vga`). */
  vga?: boolean;
}

/** A host USB device handed to a VM (QEMU's usb-host on an xHCI controller). */
export interface UsbPassthroughRequest {
  device: string;
  /** Host bus number and device address on it (/dev/bus/usb/BBB/DDD). */
  bus: number;
  address: number;
  vendorid: string;
  productid: string;
}

/** A raw disk given to the instance as a block device (VMs: a custom block volume). */
export interface DriveRequest {
  /** The device asking for it (the guest device and its serial are named after it). */
  device: string;
  /** The raw disk: an image file or a host block device. */
  source: string;
  readonly?: boolean;
}

/** Everything one device asks of the driver at start; each list may be absent. */
export interface DeviceRunConfig {
  mounts?: MountRequest[];
  nics?: NicRequest[];
  /** Device numbers to allow in the devices cgroup. */
  allowDevices?: CgroupDeviceRule[];
  /** Raw disks (VMs). */
  drives?: DriveRequest[];
  /** PCI passthrough (VMs). */
  pciDevices?: PciPassthroughRequest[];
  /** USB passthrough (VMs). */
  usbDevices?: UsbPassthroughRequest[];
}

/** The run configurations of several devices, in order, as one. */
export function mergeRunConfigs(list: readonly DeviceRunConfig[]): Required<DeviceRunConfig> {
  const out: Required<DeviceRunConfig> = { mounts: [], nics: [], allowDevices: [], drives: [], pciDevices: [], usbDevices: [] };
  for (const c of list) {
    out.mounts.push(...(c.mounts ?? []));
    out.nics.push(...(c.nics ?? []));
    out.allowDevices.push(...(c.allowDevices ?? []));
    out.drives.push(...(c.drives ?? []));
    out.pciDevices.push(...(c.pciDevices ?? []));
    out.usbDevices.push(...(c.usbDevices ?? []));
  }
  return out;
}
