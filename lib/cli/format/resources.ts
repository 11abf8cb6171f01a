/**
 * `incus info --resources`: the server's hardware as text, line for line
 * as Incus's cmd/incus/info.go prints it (renderCPU, renderGPU, renderNIC,
 * renderDisk, renderUSB, renderPCI, renderSerial).
 */
import type {
  Resources,
  ResourcesCPUSocket,
  ResourcesGPUCard,
  ResourcesNetworkCard,
  ResourcesPCIDevice,
  ResourcesSerialDevice,
  ResourcesStorageDisk,
  ResourcesUSBDevice,
} from '../../api/resources';
import { byteSizeIEC } from './units';

/** Collects output the way Go's fmt.Print calls build it. */
class Out {
  text = '';
  print(s: string): void {
    this.text += s;
  }
  line(s: string): void {
    this.text += `${s}\n`;
  }
}

function renderGPU(o: Out, gpu: ResourcesGPUCard, prefix: string, initial: boolean): void {
  if (initial) o.print(prefix);
  o.line(`NUMA node: ${gpu.numa_node}`);
  if (gpu.vendor) o.line(`${prefix}Vendor: ${gpu.vendor} (${gpu.vendor_id ?? ''})`);
  if (gpu.product) o.line(`${prefix}Product: ${gpu.product} (${gpu.product_id ?? ''})`);
  if (gpu.pci_address) o.line(`${prefix}PCI address: ${gpu.pci_address}`);
  if (gpu.driver) o.line(`${prefix}Driver: ${gpu.driver} (${gpu.driver_version ?? ''})`);
  if (gpu.drm) {
    o.line(`${prefix}DRM:`);
    o.line(`${prefix}  ID: ${gpu.drm.id}`);
    if (gpu.drm.card_name) o.line(`${prefix}  Card: ${gpu.drm.card_name} (${gpu.drm.card_device})`);
    if (gpu.drm.control_name) o.line(`${prefix}  Control: ${gpu.drm.control_name} (${gpu.drm.control_device ?? ''})`);
    if (gpu.drm.render_name) o.line(`${prefix}  Render: ${gpu.drm.render_name} (${gpu.drm.render_device ?? ''})`);
  }
  if (gpu.nvidia) {
    const n = gpu.nvidia;
    o.line(`${prefix}NVIDIA information:`);
    o.line(`${prefix}  Architecture: ${n.architecture ?? ''}`);
    o.line(`${prefix}  Brand: ${n.brand}`);
    o.line(`${prefix}  Model: ${n.model}`);
    o.line(`${prefix}  CUDA Version: ${n.cuda_version ?? ''}`);
    o.line(`${prefix}  NVRM Version: ${n.nvrm_version ?? ''}`);
    o.line(`${prefix}  UUID: ${n.uuid ?? ''}`);
  }
  if (gpu.sriov) {
    o.line(`${prefix}SR-IOV information:`);
    o.line(`${prefix}  Current number of VFs: ${gpu.sriov.current_vfs}`);
    o.line(`${prefix}  Maximum number of VFs: ${gpu.sriov.maximum_vfs}`);
    const vfs = gpu.sriov.vfs ?? [];
    if (vfs.length > 0) {
      // Incus prints the maximum here, not the count.
      o.line(`${prefix}  VFs: ${gpu.sriov.maximum_vfs}`);
      for (const vf of vfs) {
        o.print(`${prefix}  - `);
        renderGPU(o, vf, `${prefix}    `, false);
      }
    }
  }
  if (gpu.mdev) {
    o.line(`${prefix}Mdev profiles:`);
    for (const k of Object.keys(gpu.mdev).sort()) {
      const v = gpu.mdev[k];
      o.line(`${prefix}  - ${k} (${v.name ?? ''}) (${v.available} available)`);
      if (v.description) for (const l of v.description.split('\n')) o.line(`${prefix}      ${l}`);
    }
  }
}

function renderNIC(o: Out, nic: ResourcesNetworkCard, prefix: string, initial: boolean): void {
  if (initial) o.print(prefix);
  o.line(`NUMA node: ${nic.numa_node}`);
  if (nic.vendor) o.line(`${prefix}Vendor: ${nic.vendor} (${nic.vendor_id ?? ''})`);
  if (nic.product) o.line(`${prefix}Product: ${nic.product} (${nic.product_id ?? ''})`);
  if (nic.pci_address) o.line(`${prefix}PCI address: ${nic.pci_address}`);
  if (nic.driver) o.line(`${prefix}Driver: ${nic.driver} (${nic.driver_version ?? ''})`);
  const ports = nic.ports ?? [];
  if (ports.length > 0) {
    o.line(`${prefix}Ports:`);
    for (const port of ports) {
      o.line(`${prefix}  - Port ${port.port} (${port.protocol})`);
      o.line(`${prefix}    ID: ${port.id}`);
      if (port.address) o.line(`${prefix}    Address: ${port.address}`);
      if (port.supported_modes) o.line(`${prefix}    Supported modes: ${port.supported_modes.join(', ')}`);
      if (port.supported_ports) o.line(`${prefix}    Supported ports: ${port.supported_ports.join(', ')}`);
      if (port.port_type) o.line(`${prefix}    Port type: ${port.port_type}`);
      if (port.transceiver_type) o.line(`${prefix}    Transceiver type: ${port.transceiver_type}`);
      o.line(`${prefix}    Auto negotiation: ${port.auto_negotiation}`);
      o.line(`${prefix}    Link detected: ${port.link_detected}`);
      if ((port.link_speed ?? 0) > 0) o.line(`${prefix}    Link speed: ${port.link_speed}Mbit/s (${port.link_duplex ?? ''} duplex)`);
      const ib = port.infiniband;
      if (ib) {
        o.line(`${prefix}    Infiniband:`);
        if (ib.issm_name) o.line(`${prefix}      IsSM: ${ib.issm_name} (${ib.issm_device ?? ''})`);
        if (ib.mad_name) o.line(`${prefix}      MAD: ${ib.mad_name} (${ib.mad_device ?? ''})`);
        if (ib.verb_name) o.line(`${prefix}      Verb: ${ib.verb_name} (${ib.verb_device ?? ''})`);
      }
    }
  }
  if (nic.sriov) {
    o.line(`${prefix}SR-IOV information:`);
    o.line(`${prefix}  Current number of VFs: ${nic.sriov.current_vfs}`);
    o.line(`${prefix}  Maximum number of VFs: ${nic.sriov.maximum_vfs}`);
    const vfs = nic.sriov.vfs ?? [];
    if (vfs.length > 0) {
      o.line(`${prefix}  VFs: ${nic.sriov.maximum_vfs}`);
      for (const vf of vfs) {
        o.print(`${prefix}  - `);
        renderNIC(o, vf, `${prefix}    `, false);
      }
    }
  }
}

function renderDisk(o: Out, disk: ResourcesStorageDisk, prefix: string): void {
  o.print(prefix);
  o.line(`NUMA node: ${disk.numa_node}`);
  o.line(`${prefix}ID: ${disk.id}`);
  o.line(`${prefix}Device: ${disk.device}`);
  if (disk.model) o.line(`${prefix}Model: ${disk.model}`);
  if (disk.type) o.line(`${prefix}Type: ${disk.type}`);
  o.line(`${prefix}Size: ${byteSizeIEC(disk.size)}`);
  if (disk.wwn) o.line(`${prefix}WWN: ${disk.wwn}`);
  o.line(`${prefix}Read-Only: ${disk.read_only}`);
  o.line(`${prefix}Removable: ${disk.removable}`);
  if (disk.partitions.length > 0) {
    o.line(`${prefix}Partitions:`);
    for (const p of disk.partitions) {
      o.line(`${prefix}  - Partition ${p.partition}`);
      o.line(`${prefix}    ID: ${p.id}`);
      o.line(`${prefix}    Device: ${p.device}`);
      o.line(`${prefix}    Read-Only: ${p.read_only}`);
      o.line(`${prefix}    Size: ${byteSizeIEC(p.size)}`);
    }
  }
}

function renderCPU(o: Out, cpu: ResourcesCPUSocket, prefix: string): void {
  if (cpu.vendor) o.line(`${prefix}Vendor: ${cpu.vendor}`);
  if (cpu.name) o.line(`${prefix}Name: ${cpu.name}`);
  if (cpu.cache) {
    o.line(`${prefix}Caches:`);
    for (const c of cpu.cache) o.line(`${prefix}  - Level ${c.level} (type: ${c.type}): ${byteSizeIEC(c.size, 0)}`);
  }
  // Clusters are mentioned only when there is more than one.
  const clustered = new Set(cpu.cores.map((c) => c.cluster)).size > 1;
  const indent = clustered ? '  ' : '';
  o.line(`${prefix}Cores:`);
  cpu.cores.forEach((core, i) => {
    if (clustered && (i === 0 || core.cluster !== cpu.cores[i - 1].cluster)) o.line(`${prefix}  - Cluster ${core.cluster}`);
    o.line(`${prefix}${indent}  - Core ${core.core}`);
    o.line(`${prefix}${indent}    Frequency: ${core.frequency ?? 0}Mhz`);
    o.line(`${prefix}${indent}    Threads:`);
    for (const t of core.threads) o.line(`${prefix}${indent}      - ${t.thread} (id: ${t.id}, online: ${t.online}, NUMA node: ${t.numa_node})`);
  });
  const freq = cpu.frequency ?? 0;
  if (freq > 0) {
    const min = cpu.frequency_minimum ?? 0;
    const turbo = cpu.frequency_turbo ?? 0;
    o.line(turbo > 0 && min > 0 ? `${prefix}Frequency: ${freq}Mhz (min: ${min}Mhz, max: ${turbo}Mhz)` : `${prefix}Frequency: ${freq}Mhz`);
  }
}

function renderUSB(o: Out, usb: ResourcesUSBDevice, prefix: string): void {
  o.line(`${prefix}Vendor: ${usb.vendor}`);
  o.line(`${prefix}Vendor ID: ${usb.vendor_id}`);
  o.line(`${prefix}Product: ${usb.product}`);
  o.line(`${prefix}Product ID: ${usb.product_id}`);
  o.line(`${prefix}Bus Address: ${usb.bus_address}`);
  o.line(`${prefix}Device Address: ${usb.device_address}`);
  if (usb.serial) o.line(`${prefix}Serial Number: ${usb.serial}`);
}

function renderPCI(o: Out, pci: ResourcesPCIDevice, prefix: string): void {
  o.line(`${prefix}Address: ${pci.pci_address}`);
  o.line(`${prefix}Vendor: ${pci.vendor}`);
  o.line(`${prefix}Vendor ID: ${pci.vendor_id}`);
  o.line(`${prefix}Product: ${pci.product}`);
  o.line(`${prefix}Product ID: ${pci.product_id}`);
  o.line(`${prefix}NUMA node: ${pci.numa_node}`);
  o.line(`${prefix}IOMMU group: ${pci.iommu_group}`);
  o.line(`${prefix}Driver: ${pci.driver}`);
}

function renderSerial(o: Out, s: ResourcesSerialDevice, prefix: string): void {
  o.line(`${prefix}Id: ${s.id}`);
  o.line(`${prefix}Device: ${s.device}`);
  o.line(`${prefix}DeviceID: ${s.device_id}`);
  o.line(`${prefix}DevicePath: ${s.device_path}`);
  o.line(`${prefix}Vendor: ${s.vendor}`);
  o.line(`${prefix}Vendor ID: ${s.vendor_id}`);
  o.line(`${prefix}Product: ${s.product}`);
  o.line(`${prefix}Product ID: ${s.product_id}`);
  o.line(`${prefix}Driver: ${s.driver}`);
}

/** A section with one item ("GPU:") or several ("GPUs:", "Card 0:"). */
function section<T>(o: Out, items: T[], one: string, many: string, label: string, render: (item: T, prefix: string) => void): void {
  if (items.length === 1) {
    o.line(`\n${one}:`);
    render(items[0], '  ');
  } else if (items.length > 1) {
    o.line(`\n${many}:`);
    items.forEach((item, i) => {
      o.line(`  ${label} ${i}:`);
      render(item, '    ');
    });
  }
}

function renderSystem(o: Out, r: Resources): void {
  const s = r.system;
  o.line('System:');
  const field = (label: string, value: string) => value && o.line(`  ${label}: ${value}`);
  field('UUID', s.uuid);
  field('Vendor', s.vendor);
  field('Product', s.product);
  field('Family', s.family);
  field('Version', s.version);
  field('SKU', s.sku);
  field('Serial number', s.serial);
  field('Type', s.type);
  const sub = (label: string, value: string) => value && o.line(`      ${label}: ${value}`);
  if (s.chassis) {
    o.line('  Chassis:');
    sub('Vendor', s.chassis.vendor);
    sub('Type', s.chassis.type);
    sub('Version', s.chassis.version);
    sub('Serial', s.chassis.serial);
  }
  if (s.motherboard) {
    o.line('  Motherboard:');
    sub('Vendor', s.motherboard.vendor);
    sub('Product', s.motherboard.product);
    sub('Serial', s.motherboard.serial);
    sub('Version', s.motherboard.version);
  }
  if (s.firmware) {
    o.line('  Firmware:');
    sub('Vendor', s.firmware.vendor);
    sub('Version', s.firmware.version);
    sub('Date', s.firmware.date);
  }
}

function renderMemory(o: Out, r: Resources): void {
  const m = r.memory;
  o.line('\nMemory:');
  const usage = (indent: string, total: number, used: number) => {
    o.line(`${indent}Free: ${byteSizeIEC(total - used)}`);
    o.line(`${indent}Used: ${byteSizeIEC(used)}`);
    o.line(`${indent}Total: ${byteSizeIEC(total)}`);
  };
  if (m.hugepages_total > 0) {
    o.line('  Hugepages:');
    usage('    ', m.hugepages_total, m.hugepages_used);
  }
  const nodes = m.nodes ?? [];
  if (nodes.length > 1) {
    o.line('  NUMA nodes:');
    for (const n of nodes) {
      o.line(`    Node ${n.numa_node}:`);
      if (n.hugepages_total > 0) {
        o.line('      Hugepages:');
        usage('        ', n.hugepages_total, n.hugepages_used);
      }
      usage('      ', n.total, n.used);
    }
  }
  usage('  ', m.total, m.used);
}

/** The whole `incus info --resources` text. */
export function renderResources(r: Resources): string {
  const o = new Out();
  renderSystem(o, r);
  o.line('\nLoad:');
  if (r.load.Processes > 0) {
    o.line(`  Processes: ${r.load.Processes}`);
    o.line(`  Average: ${r.load.Average1Min.toFixed(2)} ${r.load.Average5Min.toFixed(2)} ${r.load.Average10Min.toFixed(2)}`);
  }
  const sockets = r.cpu.sockets;
  if (sockets.length === 1) {
    o.line('\nCPU:');
    o.line(`  Architecture: ${r.cpu.architecture}`);
    renderCPU(o, sockets[0], '  ');
  } else if (sockets.length > 1) {
    // Incus prints no blank line before this one.
    o.line('CPUs:');
    o.line(`  Architecture: ${r.cpu.architecture}`);
    for (const s of sockets) {
      o.line(`  Socket ${s.socket}:`);
      renderCPU(o, s, '    ');
    }
  }
  renderMemory(o, r);
  section(o, r.gpu.cards, 'GPU', 'GPUs', 'Card', (g, p) => renderGPU(o, g, p, true));
  section(o, r.network.cards, 'NIC', 'NICs', 'Card', (n, p) => renderNIC(o, n, p, true));
  section(o, r.storage.disks, 'Disk', 'Disks', 'Disk', (d, p) => renderDisk(o, d, p));
  section(o, r.usb.devices, 'USB device', 'USB devices', 'Device', (u, p) => renderUSB(o, u, p));
  section(o, r.pci.devices, 'PCI device', 'PCI devices', 'Device', (d, p) => renderPCI(o, d, p));
  section(o, r.serial.devices, 'Serial device', 'Serial devices', 'Device', (d, p) => renderSerial(o, d, p));
  return o.text;
}
