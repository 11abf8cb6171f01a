/**
 * PCI, GPU (VM) and USB passthrough over fixture sysfs trees: option
 * validation, selection of host devices, the host checks (device present,
 * IOMMU), vfio-pci binding and giving back (the kernel's side simulated by
 * pre-made driver links), and the QEMU config lines they become.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gpuDevice } from '../../../lib/server/instance/devices/gpu';
import { gpuVmRunConfig } from '../../../lib/server/instance/devices/gpu-vm';
import type { DeviceHost, DeviceStartContext } from '../../../lib/server/instance/devices/interface';
import { pciDevice } from '../../../lib/server/instance/devices/pci';
import { checkPassthroughHost, iommuSiblings, listPciFunctions, normalisePciAddress } from '../../../lib/server/instance/devices/pci-sysfs';
import { usbDevice, usbRunConfig } from '../../../lib/server/instance/devices/usb';
import { scanUsb } from '../../../lib/server/instance/devices/usb-scan';
import { bindVfio, passthroughStateFile, qemuPciDevices, qemuUsbDevices, releaseVfio } from '../../../lib/server/instance/drivers/qemu/passthrough';
import { buildQemuConfig } from '../../../lib/server/instance/drivers/qemu/qemu-config';
import { StatusError } from '../../../lib/server/errors';
import { testQemuSpec } from '../fixtures/qemu-spec';

function put(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function tempRoot(t: { teardown(f: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'passthrough-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

interface FixtureFn {
  addr: string;
  cls: string;
  vendor: string;
  device: string;
  driver?: string;
  group?: number;
  bootVga?: boolean;
  drm?: string;
}

/**
 * A sysfs tree: an Intel iGPU (boot VGA, group 1), an NVIDIA card and its
 * audio function (group 2), an ISA bridge (group 3); `iommu` false leaves
 * kernel/iommu_groups empty and the functions groupless.
 */
function fixtureSys(root: string, iommu = true): string {
  const sys = join(root, 'sys');
  const fns: FixtureFn[] = [
    { addr: '0000:00:02.0', cls: '0x030000', vendor: '0x8086', device: '0x9a49', driver: 'i915', group: 1, bootVga: true, drm: 'card0' },
    { addr: '0000:00:1f.0', cls: '0x060100', vendor: '0x8086', device: '0xa082', group: 3 },
    { addr: '0000:01:00.0', cls: '0x030000', vendor: '0x10de', device: '0x2204', driver: 'nvidia', group: 2, drm: 'card1' },
    { addr: '0000:01:00.1', cls: '0x040300', vendor: '0x10de', device: '0x1aef', driver: 'snd_hda_intel', group: 2 },
  ];
  mkdirSync(join(sys, 'kernel', 'iommu_groups'), { recursive: true });
  mkdirSync(join(sys, 'bus', 'pci', 'drivers', 'vfio-pci'), { recursive: true });
  for (const f of fns) {
    const dev = join(sys, 'devices', 'pci0000:00', f.addr);
    put(join(dev, 'class'), `${f.cls}\n`);
    put(join(dev, 'vendor'), `${f.vendor}\n`);
    put(join(dev, 'device'), `${f.device}\n`);
    put(join(dev, 'driver_override'), '(null)\n');
    if (f.bootVga) put(join(dev, 'boot_vga'), '1\n');
    if (f.drm) mkdirSync(join(dev, 'drm', f.drm), { recursive: true });
    if (f.driver) {
      const drv = join(sys, 'bus', 'pci', 'drivers', f.driver);
      put(join(drv, 'unbind'), '');
      symlinkSync(drv, join(dev, 'driver'));
    }
    if (iommu && f.group !== undefined) {
      const group = join(sys, 'kernel', 'iommu_groups', String(f.group));
      mkdirSync(join(group, 'devices'), { recursive: true });
      symlinkSync(dev, join(group, 'devices', f.addr));
      symlinkSync(group, join(dev, 'iommu_group'));
    }
    mkdirSync(join(sys, 'bus', 'pci', 'devices'), { recursive: true });
    symlinkSync(dev, join(sys, 'bus', 'pci', 'devices', f.addr));
  }
  put(join(sys, 'bus', 'pci', 'drivers_probe'), '');
  return sys;
}

/** USB: a keyboard on bus 1 (device 4), a serial adapter on bus 2 (device 2), an interface entry and a root hub without numbers. */
function fixtureUsb(sys: string): void {
  const usb = join(sys, 'bus', 'usb', 'devices');
  const dev = (name: string, v: Record<string, string>): void => {
    for (const [k, val] of Object.entries(v)) put(join(usb, name, k), `${val}\n`);
  };
  dev('1-1', { idVendor: '046d', idProduct: 'c31c', busnum: '1', devnum: '4', dev: '189:3', serial: 'KB1' });
  dev('2-3', { idVendor: '0403', idProduct: '6001', busnum: '2', devnum: '2', dev: '189:129' });
  dev('1-1:1.0', { bInterfaceClass: '03' });
  dev('usb3', { idVendor: '1d6b', idProduct: '0003', busnum: '3' });
}

function startCtx(sys: string, name: string, config: Record<string, string>, instConfig: Record<string, string> = {}): DeviceStartContext {
  const host: DeviceHost = { devRoot: '/nonexistent', sysRoot: sys, procRoot: '/nonexistent', devicesCgroup: 2 };
  return {
    inst: {
      project: 'default',
      name: 'v1',
      type: 'virtual-machine',
      expandedConfig: instConfig,
      expandedDevices: { [name]: config },
      volumePath: '/nonexistent',
      idmappedRootfs: false,
      idmap: null,
    },
    name,
    config,
    varDir: '/nonexistent',
    dirName: 'v1',
    setCgroup: async () => undefined,
    devicesDir: '/nonexistent',
    logDir: '/nonexistent',
    host,
  };
}

const vctx = (instanceType?: 'container' | 'virtual-machine') => ({ profile: false, poolExists: () => true, instanceType });

t.test('pci and usb validation: 400 naming the device and the key', async (t) => {
  const pci = (c: Record<string, string>) => () => pciDevice.validate('p1', { type: 'pci', ...c }, vctx('virtual-machine'));
  t.doesNotThrow(pci({ address: '0000:01:00.0' }));
  t.doesNotThrow(pci({ address: '01:00.0', firmware: 'false' }));
  t.doesNotThrow(pci({ address: '0A:1F.7' }), 'upper case, as Incus accepts');
  for (const bad of ['1:00.0', '0000:01:00', 'zz:00.0', '01:00.0 ', '0000:01:00.0.1']) {
    const err = t.throws(pci({ address: bad })) as StatusError;
    t.equal(err.status, 400, `address ${JSON.stringify(bad)}: 400`);
    t.match(err.message, /^Invalid device "p1": Invalid value for "address": Invalid PCI address$/);
  }
  t.throws(pci({}), /Invalid device "p1": Invalid value for "address": Invalid PCI address/, 'address is required');
  t.throws(pci({ address: '01:00.0', firmware: 'maybe' }), /"firmware"/);
  t.throws(pci({ address: '01:00.0', vendorid: '10de' }), /Unknown key "vendorid"/);

  const usb = (c: Record<string, string>) => () => usbDevice.validate('u1', { type: 'usb', ...c }, vctx('virtual-machine'));
  t.doesNotThrow(usb({}));
  t.doesNotThrow(usb({ vendorid: '046d', productid: 'c31c', busnum: '1', devnum: '4', required: 'true', serial: 'x y', attached: 'false' }));
  t.throws(usb({ vendorid: '046D' }), /Invalid device "u1": Invalid value for "vendorid": Invalid value, must be four lower case hex characters/);
  t.throws(usb({ productid: '12345' }), /"productid"/);
  t.throws(usb({ busnum: '-1' }), /"busnum"/);
  t.throws(usb({ devnum: '4294967296' }), /"devnum"/);
  t.throws(usb({ required: 'sometimes' }), /"required"/);
  t.throws(usb({ address: '1' }), /Unknown key "address"/);

  const gpu = (c: Record<string, string>, type?: 'container' | 'virtual-machine') => () => gpuDevice.validate('g', { type: 'gpu', ...c }, vctx(type));
  t.throws(gpu({ uid: '1000' }, 'virtual-machine'), /Invalid device "g": Unknown key "uid"/, 'uid/gid/mode are for containers only');
  t.doesNotThrow(gpu({ uid: '1000', mode: '0600' }, 'container'));
  t.doesNotThrow(gpu({ pci: '01:00.0', gputype: 'physical' }, 'virtual-machine'));
});

t.test('PCI functions from sysfs; the host checks', async (t) => {
  const sys = fixtureSys(tempRoot(t));
  t.same(
    listPciFunctions(sys).map((f) => [f.address, f.classCode, f.vendorId, f.productId, f.driver, f.iommuGroup, f.bootVga, f.drmCard]),
    [
      ['0000:00:02.0', '0x030000', '8086', '9a49', 'i915', 1, true, 0],
      ['0000:00:1f.0', '0x060100', '8086', 'a082', '', 3, false, null],
      ['0000:01:00.0', '0x030000', '10de', '2204', 'nvidia', 2, false, 1],
      ['0000:01:00.1', '0x040300', '10de', '1aef', 'snd_hda_intel', 2, false, null],
    ],
  );
  t.same(iommuSiblings(sys, '0000:01:00.0'), ['0000:01:00.1']);
  t.same(iommuSiblings(sys, '0000:00:02.0'), []);
  t.equal(checkPassthroughHost(sys, '0000:01:00.0').iommuGroup, 2);
  t.throws(() => checkPassthroughHost(sys, '0000:05:00.0'), /^Invalid PCI address \(no device found\): 0000:05:00.0$/);
  t.equal(normalisePciAddress('01:00.0'), '0000:01:00.0');

  const noIommu = fixtureSys(tempRoot(t), false);
  t.throws(() => checkPassthroughHost(noIommu, '0000:01:00.0'), /Cannot pass PCI device 0000:01:00.0 through: the host has no IOMMU/);
  t.throws(() => checkPassthroughHost(noIommu, '0000:09:00.0'), /no device found/, 'a missing device is named before the IOMMU');
});

t.test('pci device start: the request, or a 400 with the reason', async (t) => {
  const sys = fixtureSys(tempRoot(t));
  t.same(await pciDevice.start!(startCtx(sys, 'p1', { type: 'pci', address: '01:00.1' })), {
    pciDevices: [{ device: 'p1', address: '0000:01:00.1', romBar: true }],
  });
  t.same((await pciDevice.start!(startCtx(sys, 'p1', { type: 'pci', address: '0000:01:00.1', firmware: 'false' })))?.pciDevices?.[0]?.romBar, false);
  await t.rejects(pciDevice.start!(startCtx(sys, 'p1', { type: 'pci', address: '0000:07:00.0' })), { status: 400, message: /no device found/ });
  await t.rejects(pciDevice.start!(startCtx(sys, 'p1', { type: 'pci', address: '0000:01:00.1' }, { 'migration.stateful': 'true' })), {
    status: 400,
    message: 'PCI devices cannot be used when migration.stateful is enabled',
  });
  const noIommu = fixtureSys(tempRoot(t), false);
  await t.rejects(pciDevice.start!(startCtx(noIommu, 'p1', { type: 'pci', address: '0000:01:00.1' })), { status: 400, message: /no IOMMU/ });
  // A profile's pci or usb device reaching a container.
  const inContainer = (c: DeviceStartContext): DeviceStartContext => ({ ...c, inst: { ...c.inst, type: 'container' } });
  await t.rejects(pciDevice.start!(inContainer(startCtx(sys, 'p1', { type: 'pci', address: '0000:01:00.1' }))), {
    status: 400,
    message: 'Unsupported device type "pci" for containers',
  });
  await t.rejects(usbDevice.start!(inContainer(startCtx(sys, 'u1', { type: 'usb' }))), { status: 400, message: 'Unsupported device type "usb" for containers' });
});

t.test('gpu for a VM: one display card, its IOMMU siblings, boot VGA', async (t) => {
  const sys = fixtureSys(tempRoot(t));
  t.same(gpuVmRunConfig('gpu0', { vendorid: '10de' }, sys).pciDevices, [
    { device: 'gpu0', address: '0000:01:00.0', vga: false },
    { device: 'gpu0', address: '0000:01:00.1' },
  ]);
  t.same(gpuVmRunConfig('gpu0', { pci: '00:02.0' }, sys).pciDevices, [{ device: 'gpu0', address: '0000:00:02.0', vga: true }]);
  t.same(gpuVmRunConfig('gpu0', { id: '1' }, sys).pciDevices?.[0]?.address, '0000:01:00.0', 'id: the DRM card number');
  t.throws(() => gpuVmRunConfig('gpu0', {}, sys), /^VMs cannot match multiple GPUs per device$/);
  t.throws(() => gpuVmRunConfig('gpu0', { vendorid: '1002' }, sys), /^Failed to detect requested GPU device$/);
  t.throws(() => gpuVmRunConfig('gpu0', { pci: '0000:00:1f.0' }, sys), /Failed to detect requested GPU device/, 'not a display controller');
  t.throws(() => gpuVmRunConfig('gpu0', { pci: '0000:0f:00.0' }, sys), /Invalid PCI address \(no device found\): 0000:0f:00.0/);
  t.throws(() => gpuVmRunConfig('gpu0', { vendorid: '10de' }, fixtureSys(tempRoot(t), false)), /no IOMMU/);
  const viaDevice = await gpuDevice.start!(startCtx(sys, 'gpu0', { type: 'gpu', productid: '9a49' }));
  t.same(viaDevice?.pciDevices, [{ device: 'gpu0', address: '0000:00:02.0', vga: true }], 'the gpu device takes the VM branch');
  await t.rejects(gpuDevice.start!(startCtx(sys, 'gpu0', { type: 'gpu' }, { 'migration.stateful': 'true' })), /GPU devices cannot be used when migration.stateful/);
});

t.test('usb: matching host devices; required and attached', async (t) => {
  const sys = fixtureSys(tempRoot(t));
  fixtureUsb(sys);
  t.same(
    scanUsb(sys).map((d) => [d.vendorid, d.productid, d.serial, d.busnum, d.devnum, d.major, d.minor]),
    [
      ['046d', 'c31c', 'KB1', 1, 4, 189, 3],
      ['0403', '6001', '', 2, 2, 189, 129],
    ],
    'interfaces and entries without numbers are skipped',
  );
  const run = (config: Record<string, string>) => usbRunConfig(startCtx(sys, 'u1', { type: 'usb', ...config }));
  t.same(run({ vendorid: '046d' }).usbDevices, [{ device: 'u1', bus: 1, address: 4, vendorid: '046d', productid: 'c31c' }]);
  t.same(run({ busnum: '2', devnum: '2' }).usbDevices?.map((d) => d.productid), ['6001']);
  t.same(run({ serial: 'KB1' }).usbDevices?.length, 1);
  t.same(run({}).usbDevices?.length, 2, 'no selector: every device');
  t.same(run({ vendorid: 'ffff' }), { usbDevices: [] }, 'no match and not required: skipped');
  t.throws(() => run({ vendorid: 'ffff', required: 'true' }), /^Required USB device not found$/);
  t.same(run({ vendorid: '046d', attached: 'false' }), {}, 'attached=false: nothing handed over');
  t.same(usbRunConfig(startCtx(join(tempRoot(t), 'nosys'), 'u1', { type: 'usb' })), { usbDevices: [] }, 'a host without USB');
});

t.test('vfio-pci binding and giving back on a fixture tree', async (t) => {
  const root = tempRoot(t);
  const sys = fixtureSys(root);
  const dev = join(root, 'dev');
  mkdirSync(join(dev, 'vfio'), { recursive: true });
  put(join(dev, 'vfio', 'vfio'), '');
  put(join(dev, 'vfio', '2'), '');
  // The kernel's side: the function shows up under vfio-pci once probed (here: already), and under nvidia again after.
  mkdirSync(join(sys, 'bus', 'pci', 'drivers', 'vfio-pci', '0000:01:00.0'));
  mkdirSync(join(sys, 'bus', 'pci', 'drivers', 'nvidia', '0000:01:00.0'));
  const modules: string[] = [];
  const host = { sysRoot: sys, devRoot: dev, loadModule: async (m: string) => void modules.push(m) };
  const state = passthroughStateFile(join(root, 'run'));
  const fnDir = join(sys, 'bus', 'pci', 'devices', '0000:01:00.0');

  const taken = await bindVfio([{ device: 'gpu0', address: '0000:01:00.0' }], state, host);
  t.same(taken, [{ address: '0000:01:00.0', driver: 'nvidia' }]);
  t.same(JSON.parse(readFileSync(state, 'utf8')), taken, 'recorded for the stop (and a daemon restart)');
  t.equal(readFileSync(join(fnDir, 'driver', 'unbind'), 'utf8'), '0000:01:00.0', 'unbound from its driver');
  t.equal(readFileSync(join(fnDir, 'driver_override'), 'utf8'), 'vfio-pci\n');
  t.equal(readFileSync(join(sys, 'bus', 'pci', 'drivers_probe'), 'utf8'), '0000:01:00.0');
  t.same(modules, [], 'vfio-pci present: no modprobe');

  t.same(await releaseVfio(state, host), [], 'given back');
  t.equal(readFileSync(join(fnDir, 'driver_override'), 'utf8'), '\n', 'override cleared');
  t.notOk(existsSync(state), 'record removed');
  t.same(await releaseVfio(state, host), [], 'nothing recorded: nothing to do');

  // No VFIO group node: refused, and what was taken goes back.
  rmSync(join(dev, 'vfio', '2'));
  writeFileSync(join(fnDir, 'driver_override'), '(null)\n');
  await t.rejects(bindVfio([{ device: 'gpu0', address: '0000:01:00.0' }], state, host), {
    status: 400,
    message: /^Failed to start device "gpu0": VFIO is not available on this host/,
  });
  t.equal(readFileSync(join(fnDir, 'driver_override'), 'utf8'), '\n', 'given back after the failure');
  t.notOk(existsSync(state));

  // No IOMMU: refused before anything is touched.
  const bare = fixtureSys(tempRoot(t), false);
  const bareState = join(root, 'bare.json');
  await t.rejects(bindVfio([{ device: 'p1', address: '0000:01:00.1' }], bareState, { ...host, sysRoot: bare }), {
    status: 400,
    message: /^Failed to start device "p1": Cannot pass PCI device 0000:01:00.1 through: the host has no IOMMU/,
  });
  t.equal(readFileSync(join(bare, 'bus', 'pci', 'devices', '0000:01:00.1', 'driver_override'), 'utf8'), '(null)\n', 'untouched');
  t.notOk(existsSync(bareState));
  t.same(await bindVfio([], bareState, host), [], 'no requests: nothing');
});

t.test('QEMU config: vfio-pci on root ports of their own, usb-host on an xHCI controller', async (t) => {
  const pci = qemuPciDevices([
    { device: 'gpu0', address: '0000:01:00.0', vga: true },
    { device: 'gpu0', address: '0000:01:00.1' },
    { device: 'p1', address: '0000:03:00.0', romBar: false },
  ]);
  t.same(pci.map((d) => d.id), ['gpu0', 'gpu0_1', 'p1']);
  const usb = qemuUsbDevices([{ device: 'u1', bus: 1, address: 4, vendorid: '046d', productid: 'c31c' }]);
  t.same(usb, [{ id: 'u1-001-004', hostBus: 1, hostAddr: 4 }]);
  const l = buildQemuConfig(testQemuSpec({ pciDevices: pci, usbDevices: usb }));
  t.match(
    l.conf,
    [
      '# Root port for "gpu0"',
      '[device "qemu_pcie_pt0"]',
      'bus = "pcie.0"',
      'chassis = "64"',
      'driver = "pcie-root-port"',
      'slot = "0"',
      '',
      '# PCI card ("gpu0" device)',
      '[device "dev-incus_gpu0"]',
      'addr = "00.0"',
      'bus = "qemu_pcie_pt0"',
      'driver = "vfio-pci"',
      'host = "0000:01:00.0"',
      'x-vga = "on"',
    ].join('\n'),
  );
  t.match(l.conf, '[device "dev-incus_gpu0_1"]\naddr = "00.0"\nbus = "qemu_pcie_pt1"\ndriver = "vfio-pci"\nhost = "0000:01:00.1"\n\n');
  t.match(l.conf, '[device "dev-incus_p1"]\naddr = "00.0"\nbus = "qemu_pcie_pt2"\ndriver = "vfio-pci"\nhost = "0000:03:00.0"\nrombar = "0"\n');
  t.match(l.conf, '# USB controller\n[device "qemu_usb"]\ndriver = "qemu-xhci"\np2 = "8"\np3 = "8"\n');
  t.match(l.conf, '[device "dev-incus_u1-001-004"]\nbus = "qemu_usb.0"\ndriver = "usb-host"\nhostaddr = "4"\nhostbus = "1"\n');
  const chassis = l.sections.filter((s) => s.entries.driver === 'pcie-root-port').map((s) => s.entries.chassis);
  t.equal(new Set(chassis).size, chassis.length, `root port chassis numbers are unique: ${chassis.join(',')}`);

  const plain = buildQemuConfig(testQemuSpec());
  t.notOk(plain.sections.some((s) => s.name === 'device "qemu_usb"' || s.entries.driver === 'vfio-pci'), 'nothing passed through: no controller, no vfio');
  t.throws(() => buildQemuConfig(testQemuSpec({ pciDevices: [{ id: 'p1', host: '01:00.0' }] })), /Invalid host PCI address "01:00.0" for device "p1"/);
});
