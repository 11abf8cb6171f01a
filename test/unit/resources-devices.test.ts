/** GPU, network, disk, PCI, USB and serial readers against the fixture tree. */
import t from 'tap';
import { readGPU } from '../../lib/server/resources/gpu';
import { readNetwork } from '../../lib/server/resources/network';
import { parsePciVpd, readPCI } from '../../lib/server/resources/pci';
import { readSerial } from '../../lib/server/resources/serial';
import { parseUdevData, readStorage, udevDecode } from '../../lib/server/resources/storage';
import { readUSB } from '../../lib/server/resources/usb';
import { FIXTURE_ROOT, fixtureHost } from './fixtures/resources-host';

t.test('gpu: the DRM card with its nodes, driver and names', async (t) => {
  const gpu = await readGPU(fixtureHost());
  t.equal(gpu.total, 1, 'the card is not listed again from the PCI bus');
  t.same(gpu.cards[0], {
    driver: 'i915',
    driver_version: '6.1.0-test',
    drm: { id: 0, card_name: 'card0', card_device: '226:0', render_name: 'renderD128', render_device: '226:128' },
    numa_node: 0,
    pci_address: '0000:00:04.0',
    vendor: 'Intel Corporation',
    vendor_id: '8086',
    product: 'CoffeeLake-S GT2 [UHD Graphics 630]',
    product_id: '3e92',
  });
  t.same(Object.keys(gpu.cards[0]).slice(0, 3), ['driver', 'driver_version', 'drm'], "Incus's field order");
});

t.test('network: an interface with its port, and a bare controller with SR-IOV', async (t) => {
  const net = await readNetwork(fixtureHost());
  t.equal(net.total, 2, 'lo has no device; the unbound ConnectX comes from the PCI bus');
  const [e1000e, cx] = net.cards;
  t.equal(e1000e.driver, 'e1000e');
  t.equal(e1000e.driver_version, '3.2.6-k', "the module's version");
  t.equal(e1000e.pci_address, '0000:00:03.0');
  t.equal(e1000e.product, '82574L Gigabit Network Connection');
  t.same(e1000e.ports, [
    { id: 'eth0', address: '00:1b:21:aa:bb:cc', port: 0, protocol: 'ethernet', auto_negotiation: false, link_detected: true, link_speed: 1000, link_duplex: 'full' },
  ]);
  t.equal(cx.pci_address, '0000:00:06.0');
  t.equal(cx.driver, undefined, 'no driver bound');
  t.equal(cx.ports, undefined);
  t.same(cx.sriov, { current_vfs: 0, maximum_vfs: 8, vfs: null });
});

t.test('storage: the virtio disk, udev properties, links and partition', async (t) => {
  const st = await readStorage(fixtureHost());
  t.equal(st.total, 2, 'one disk and its partition; loop0 has no device');
  t.same(st.disks[0], {
    id: 'vda',
    device: '254:0',
    model: 'QEMU HARDDISK',
    type: 'virtio',
    read_only: false,
    size: 41943040 * 512,
    removable: false,
    numa_node: 0,
    device_path: 'pci-0000:00:02.0',
    block_size: 4096,
    firmware_version: '2.5+',
    rpm: 0,
    serial: 'SER123',
    device_id: 'virtio-SER123',
    partitions: [{ id: 'vda1', device: '254:1', read_only: false, size: 2048 * 512, partition: 1 }],
    pci_address: '0000:00:02.0',
  });
  t.equal(udevDecode('WDC\\x20WD10'), 'WDC WD10');
  t.same([...parseUdevData('E:ID_CDROM=1\nS:x\nE:BAD').entries()], [['ID_CDROM', '1']]);
});

t.test('pci: every device, IOMMU groups and VPD', async (t) => {
  const pci = await readPCI(fixtureHost());
  t.equal(pci.total, 5);
  const byAddr = new Map(pci.devices.map((d) => [d.pci_address, d]));
  t.equal(byAddr.get('0000:00:03.0')?.iommu_group, 7);
  t.equal(byAddr.get('0000:00:02.0')?.vendor, '', 'unknown vendor: no name');
  t.same(byAddr.get('0000:00:06.0')?.vpd, { product_name: 'ConnectX', entries: { PN: 'MCX4', SN: 'AB12' } }, 'unknown keys dropped');
  t.same(byAddr.get('0000:00:06.0')?.driver, '');
  t.same(parsePciVpd(Buffer.from([0x82, 0x30, 0x00, 0x41])), { product_name: 'A' }, 'a length past the end is cut');
});

t.test('usb: hubs left out, interfaces with class names', async (t) => {
  const usb = await readUSB(fixtureHost());
  t.equal(usb.total, 2);
  t.same(usb.devices[0], {
    bus_address: 1,
    device_address: 2,
    serial: '4C530001',
    interfaces: [{ class: 'Mass Storage', class_id: 8, driver: 'usb-storage', driver_version: '6.1.0-test', number: 0, subclass: 'SCSI', subclass_id: 6 }],
    vendor: 'SanDisk Corp.',
    vendor_id: '0781',
    product: 'Cruzer Blade',
    product_id: '5567',
    speed: 480,
  });
  t.equal(usb.devices[1].product, 'FT232 Serial (UART) IC', 'from usb.ids when the device has no product file');
});

t.test('serial: the FTDI adapter by id and path', async (t) => {
  const serial = await readSerial(fixtureHost());
  t.equal(serial.total, 1);
  t.same(serial.devices[0], {
    id: 'ttyUSB0',
    device: '188:0',
    device_id: `${FIXTURE_ROOT}/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0`,
    device_path: `${FIXTURE_ROOT}/dev/serial/by-path/pci-0000:00:05.0-usb-0:2:1.0-port0`,
    driver: 'ftdi_sio',
    vendor: 'Future Technology Devices International, Ltd',
    vendor_id: '0403',
    product: 'FT232 Serial (UART) IC',
    product_id: '6001',
  });
});
