/**
 * gpu device config generation over a fixture host: sysfs DRM cards (an
 * Intel iGPU and an NVIDIA card), the NVIDIA proc driver, a /dev tree and
 * a device-number table standing in for stat(2).
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type GpuHostView, nvidiaControlNodes, scanGpus } from '../../../lib/server/instance/devices/gpu-scan';
import { gpuDevice, gpuNodes, normalisePci } from '../../../lib/server/instance/devices/gpu';
import { type UnixNode, nodeRunConfig } from '../../../lib/server/instance/devices/unix-node';
import { mergeRunConfigs } from '../../../lib/server/instance/devices/run-config';
import { deviceLxcLines } from '../../../lib/server/instance/drivers/lxc/device-lines';

const nodeLxcLines = (host: string, node: UnixNode, v: 0 | 1 | 2): string[] => deviceLxcLines(mergeRunConfigs([nodeRunConfig({ path: host, dupe: false }, node)]), v);
import { unixNodeHostPath } from '../../../lib/server/instance/devices/paths';

function put(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** /sys, /proc and /dev of a host with card0 (Intel, 0000:00:02.0) and card1 (NVIDIA, 0000:01:00.0). */
function fixtureHost(t: { teardown(f: () => void): void }): GpuHostView {
  const root = mkdtempSync(join(tmpdir(), 'gpu-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const sys = join(root, 'sys');
  const cards = [
    { card: 'card0', render: 'renderD128', pci: '0000:00:02.0', vendor: '0x8086', device: '0x9a49', driver: 'i915', minors: [0, 128] },
    { card: 'card1', render: 'renderD129', pci: '0000:01:00.0', vendor: '0x10de', device: '0x2204', driver: 'nvidia', minors: [1, 129] },
  ];
  for (const c of cards) {
    const dev = join(sys, 'devices', 'pci0000:00', c.pci);
    put(join(dev, 'vendor'), `${c.vendor}\n`);
    put(join(dev, 'device'), `${c.device}\n`);
    put(join(dev, 'drm', c.card, 'dev'), `226:${c.minors[0]}\n`);
    put(join(dev, 'drm', c.render, 'dev'), `226:${c.minors[1]}\n`);
    mkdirSync(join(sys, 'bus', 'pci', 'drivers', c.driver), { recursive: true });
    symlinkSync(join(sys, 'bus', 'pci', 'drivers', c.driver), join(dev, 'driver'));
    mkdirSync(join(sys, 'class', 'drm', c.card), { recursive: true });
    put(join(sys, 'class', 'drm', c.card, 'dev'), `226:${c.minors[0]}\n`);
    symlinkSync(dev, join(sys, 'class', 'drm', c.card, 'device'));
    put(join(root, 'dev', 'dri', c.card), '');
    put(join(root, 'dev', 'dri', c.render), '');
  }
  // Connectors are not cards.
  mkdirSync(join(sys, 'class', 'drm', 'card0-HDMI-A-1'), { recursive: true });
  put(join(root, 'proc', 'driver', 'nvidia', 'gpus', '0000:01:00.0', 'information'), 'Model: \t\t NVIDIA GeForce RTX 3090\nIRQ:   \t\t 42\nDevice Minor: \t 0\n');
  const numbers: Record<string, [number, number]> = { nvidia0: [195, 0], nvidiactl: [195, 255], 'nvidia-uvm': [511, 0], 'nvidia-uvm-tools': [511, 1], 'nvidia-modeset': [195, 254] };
  for (const n of Object.keys(numbers)) put(join(root, 'dev', n), '');
  mkdirSync(join(root, 'dev', 'nvidia-caps'));
  return {
    devRoot: join(root, 'dev'),
    sysRoot: sys,
    procRoot: join(root, 'proc'),
    deviceNumber: (p) => {
      const n = numbers[p.slice(join(root, 'dev').length + 1)];
      return n ? { major: n[0], minor: n[1] } : null;
    },
  };
}

t.test('scan finds both cards with ids, drivers and nodes', async (t) => {
  const host = fixtureHost(t);
  const cards = scanGpus(host);
  t.same(
    cards.map((c) => [c.id, c.pci, c.vendorId, c.productId, c.driver]),
    [
      [0, '0000:00:02.0', '8086', '9a49', 'i915'],
      [1, '0000:01:00.0', '10de', '2204', 'nvidia'],
    ],
  );
  t.same(cards[0].drm, [
    { devPath: 'dri/card0', major: 226, minor: 0 },
    { devPath: 'dri/renderD128', major: 226, minor: 128 },
  ]);
  t.same(cards[1].nvidia, { devPath: 'nvidia0', major: 195, minor: 0 });
  t.equal(cards[0].nvidia, null);
  t.same(
    nvidiaControlNodes(host).map((n) => n.devPath),
    ['nvidia-modeset', 'nvidia-uvm', 'nvidia-uvm-tools', 'nvidiactl'],
    'control nodes, without per-card nodes or directories',
  );
});

t.test('selection by vendor, pci and id, with owner and mode', async (t) => {
  const host = fixtureHost(t);
  const intel = gpuNodes({ vendorid: '8086', uid: '1000', gid: '44', mode: '0666' }, host, false);
  t.same(intel, [
    { path: '/dev/dri/card0', type: 'c', major: 226, minor: 0, mode: 0o666, uid: 1000, gid: 44 },
    { path: '/dev/dri/renderD128', type: 'c', major: 226, minor: 128, mode: 0o666, uid: 1000, gid: 44 },
  ]);
  const nv = gpuNodes({ pci: '01:00.0' }, host, false).map((n) => `${n.path} ${n.major}:${n.minor} ${n.mode.toString(8)}`);
  t.same(nv, [
    '/dev/dri/card1 226:1 660',
    '/dev/dri/renderD129 226:129 660',
    '/dev/nvidia0 195:0 660',
    '/dev/nvidia-modeset 195:254 660',
    '/dev/nvidia-uvm 511:0 660',
    '/dev/nvidia-uvm-tools 511:1 660',
    '/dev/nvidiactl 195:255 660',
  ]);
  t.same(
    gpuNodes({ id: '1' }, host, true).map((n) => n.path),
    ['/dev/dri/card1', '/dev/dri/renderD129', '/dev/nvidia0'],
    'nvidia.runtime leaves the control nodes to the NVIDIA runtime',
  );
  t.equal(gpuNodes({}, host, false).length, 4 + 1 + 4, 'no filter: every card, control nodes once');
  t.throws(() => gpuNodes({ vendorid: '1002' }, host, false), /Failed to detect requested GPU device/);
  t.throws(() => gpuNodes({ productid: '2204', vendorid: '8086' }, host, false), /Failed to detect/);
});

t.test('liblxc lines for a gpu node on v1 and v2 hosts', async (t) => {
  const node = { path: '/dev/dri/card0', type: 'c' as const, major: 226, minor: 0, mode: 0o660, uid: 0, gid: 0 };
  const host = unixNodeHostPath('/var/lib/incus/devices/c1', 'gpu', node.path);
  t.same(nodeLxcLines(host, node, 1), [
    'lxc.mount.entry = /var/lib/incus/devices/c1/unix.gpu.dev-dri-card0 dev/dri/card0 none bind,create=file 0 0',
    'lxc.cgroup.devices.allow = c 226:0 rwm',
  ]);
  t.same(nodeLxcLines('/x', node, 2)[1], 'lxc.cgroup2.devices.allow = c 226:0 rwm');
  t.equal(nodeLxcLines('/x', node, 0).length, 1, 'no devices controller: no rule');
});

t.test('gpu validation', async (t) => {
  const v = (c: Record<string, string>) => () => gpuDevice.validate('g', { type: 'gpu', ...c }, { profile: false, poolExists: () => true });
  t.doesNotThrow(v({ vendorid: '10de', productid: '2204', mode: '0660', uid: '1', gid: '2' }));
  t.doesNotThrow(v({ pci: '0000:01:00.0' }));
  t.throws(v({ vendorid: 'nvidia' }), /"vendorid"/);
  t.throws(v({ pci: '1:0' }), /"pci"/);
  t.throws(v({ pci: '01:00.0', vendorid: '10de' }), /Cannot use "vendorid" when "pci" is set/);
  t.throws(v({ id: '0', productid: '2204' }), /Cannot use "productid" when "id" is set/);
  t.throws(v({ gputype: 'mig' }), /"gputype".*not supported/);
  t.throws(v({ mode: '999' }), /"mode"/);
  t.throws(v({ frobnicate: '1' }), /Unknown key "frobnicate"/);
  t.equal(normalisePci('01:00.0'), '0000:01:00.0');
  t.equal(normalisePci('0000:0A:00.1'), '0000:0a:00.1');
});
