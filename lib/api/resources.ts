/**
 * Host hardware (`GET /1.0/resources`), as Incus's shared/api/resource.go
 * spells it. Optional fields are the ones Incus marks `omitempty`.
 */

export interface ResourcesCPUCache {
  level: number;
  type: string;
  size: number;
}

export interface ResourcesCPUThread {
  id: number;
  numa_node: number;
  thread: number;
  online: boolean;
  isolated: boolean;
}

export interface ResourcesCPUCore {
  core: number;
  cluster: number;
  die: number;
  threads: ResourcesCPUThread[];
  frequency?: number;
  /** null where /proc/cpuinfo has no `flags` line (Go's nil slice). */
  flags: string[] | null;
}

export interface ResourcesCPUSocket {
  name?: string;
  vendor?: string;
  socket: number;
  cache?: ResourcesCPUCache[];
  cores: ResourcesCPUCore[];
  frequency?: number;
  frequency_minimum?: number;
  frequency_turbo?: number;
  address_sizes?: { physical_bits: number; virtual_bits: number };
}

export interface ResourcesCPU {
  architecture: string;
  sockets: ResourcesCPUSocket[];
  total: number;
}

export interface ResourcesMemoryNode {
  numa_node: number;
  hugepages_used: number;
  hugepages_total: number;
  used: number;
  total: number;
}

export interface ResourcesMemory {
  nodes?: ResourcesMemoryNode[];
  hugepages_total: number;
  hugepages_used: number;
  hugepages_size: number;
  used: number;
  total: number;
}

export interface ResourcesGPUCardDRM {
  id: number;
  card_name: string;
  card_device: string;
  control_name?: string;
  control_device?: string;
  render_name?: string;
  render_device?: string;
}

export interface ResourcesGPUCardNvidia {
  cuda_version?: string;
  nvrm_version?: string;
  brand: string;
  model: string;
  uuid?: string;
  architecture?: string;
  card_name: string;
  card_device: string;
}

export interface ResourcesGPUCardMdev {
  api: string;
  available: number;
  name?: string;
  description?: string;
  /** null when the type has no `devices` folder. */
  devices: string[] | null;
}

/** Where a GPU or network card sits and what it is. */
export interface ResourcesCardIdentity {
  numa_node: number;
  pci_address?: string;
  vendor?: string;
  vendor_id?: string;
  product?: string;
  product_id?: string;
  usb_address?: string;
}

export interface ResourcesGPUCard extends ResourcesCardIdentity {
  driver?: string;
  driver_version?: string;
  drm?: ResourcesGPUCardDRM;
  sriov?: { current_vfs: number; maximum_vfs: number; vfs: ResourcesGPUCard[] | null };
  nvidia?: ResourcesGPUCardNvidia;
  mdev?: Record<string, ResourcesGPUCardMdev>;
}

export interface ResourcesGPU {
  cards: ResourcesGPUCard[];
  total: number;
}

export interface ResourcesNetworkCardPortInfiniband {
  issm_name?: string;
  issm_device?: string;
  mad_name?: string;
  mad_device?: string;
  verb_name?: string;
  verb_device?: string;
}

export interface ResourcesNetworkCardPort {
  id: string;
  address?: string;
  port: number;
  protocol: string;
  supported_modes?: string[];
  supported_ports?: string[];
  port_type?: string;
  transceiver_type?: string;
  auto_negotiation: boolean;
  link_detected: boolean;
  link_speed?: number;
  link_duplex?: string;
  infiniband?: ResourcesNetworkCardPortInfiniband;
}

export interface ResourcesNetworkCard extends ResourcesCardIdentity {
  driver?: string;
  driver_version?: string;
  ports?: ResourcesNetworkCardPort[];
  sriov?: { current_vfs: number; maximum_vfs: number; vfs: ResourcesNetworkCard[] | null };
  vdpa?: { name: string; device: string };
  firmware_version?: string;
}

export interface ResourcesNetwork {
  cards: ResourcesNetworkCard[];
  total: number;
}

export interface ResourcesStorageDiskPartition {
  id: string;
  device: string;
  read_only: boolean;
  size: number;
  partition: number;
}

export interface ResourcesStorageDisk {
  id: string;
  device: string;
  model?: string;
  type?: string;
  read_only: boolean;
  size: number;
  removable: boolean;
  wwn?: string;
  numa_node: number;
  device_path?: string;
  block_size: number;
  firmware_version?: string;
  rpm: number;
  serial?: string;
  device_id: string;
  partitions: ResourcesStorageDiskPartition[];
  pci_address?: string;
  usb_address?: string;
}

export interface ResourcesStorage {
  disks: ResourcesStorageDisk[];
  total: number;
}

export interface ResourcesUSBDeviceInterface {
  class: string;
  class_id: number;
  driver: string;
  driver_version: string;
  number: number;
  subclass: string;
  subclass_id: number;
}

export interface ResourcesUSBDevice {
  bus_address: number;
  device_address: number;
  serial: string;
  /** null for a device without interfaces (Go's nil slice). */
  interfaces: ResourcesUSBDeviceInterface[] | null;
  vendor: string;
  vendor_id: string;
  product: string;
  product_id: string;
  speed: number;
}

export interface ResourcesUSB {
  devices: ResourcesUSBDevice[];
  total: number;
}

export interface ResourcesPCIDevice {
  driver: string;
  driver_version: string;
  numa_node: number;
  pci_address: string;
  vendor: string;
  vendor_id: string;
  product: string;
  product_id: string;
  iommu_group: number;
  vpd: { product_name?: string; entries?: Record<string, string> };
}

export interface ResourcesPCI {
  devices: ResourcesPCIDevice[];
  total: number;
}

export interface ResourcesSystemFirmware {
  vendor: string;
  date: string;
  version: string;
}

export interface ResourcesSystemChassis {
  vendor: string;
  type: string;
  serial: string;
  version: string;
}

export interface ResourcesSystemMotherboard {
  vendor: string;
  product: string;
  serial: string;
  version: string;
}

export interface ResourcesSystem {
  uuid: string;
  vendor: string;
  product: string;
  family: string;
  version: string;
  sku: string;
  serial: string;
  /** `physical`, `container`, `virtual-machine` or `unknown`. */
  type: string;
  firmware: ResourcesSystemFirmware | null;
  chassis: ResourcesSystemChassis | null;
  motherboard: ResourcesSystemMotherboard | null;
}

/** Untagged in Go, so the JSON names are the Go field names. */
export interface ResourcesLoad {
  Average1Min: number;
  Average5Min: number;
  Average10Min: number;
  Processes: number;
}

export interface ResourcesSerialDevice {
  id: string;
  device: string;
  device_id: string;
  device_path: string;
  driver: string;
  vendor: string;
  vendor_id: string;
  product: string;
  product_id: string;
}

export interface ResourcesSerial {
  devices: ResourcesSerialDevice[];
  total: number;
}

export interface Resources {
  cpu: ResourcesCPU;
  memory: ResourcesMemory;
  gpu: ResourcesGPU;
  network: ResourcesNetwork;
  storage: ResourcesStorage;
  usb: ResourcesUSB;
  pci: ResourcesPCI;
  system: ResourcesSystem;
  load: ResourcesLoad;
  serial: ResourcesSerial;
}
