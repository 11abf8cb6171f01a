/** QEMU config generation: raw.qemu splitting, raw.qemu.conf overrides, the built config and argv, accelerator choice. */
import t from 'tap';
import { chooseAccelerator } from '../../lib/server/instance/drivers/qemu/accelerator';
import { applyConfOverride, renderConf, type ConfSection } from '../../lib/server/instance/drivers/qemu/qemu-conf';
import { buildQemuConfig } from '../../lib/server/instance/drivers/qemu/qemu-config';
import { rawQemuReplacesFirmware, splitRawQemu } from '../../lib/server/instance/drivers/qemu/raw-qemu';
import { testQemuSpec } from './fixtures/qemu-spec';

t.test('raw.qemu is split like a shell would, without expansion', async (t) => {
  t.same(splitRawQemu('  -m 512   -device  virtio-rng-pci '), ['-m', '512', '-device', 'virtio-rng-pci']);
  t.same(splitRawQemu(`-append 'console=ttyS0 quiet' -name "a \\"b\\" $x"`), ['-append', 'console=ttyS0 quiet', '-name', 'a "b" $x']);
  t.same(splitRawQemu('a\\ b c\\\nd ""'), ['a b', 'cd', '']);
  t.same(splitRawQemu(''), []);
  t.throws(() => splitRawQemu("-append 'x"), /Unterminated single-quoted string/);
  t.throws(() => splitRawQemu('-append "x'), /Unterminated double-quoted string/);
  t.throws(() => splitRawQemu('x\\'), /Unterminated backslash-escape/);
  t.ok(rawQemuReplacesFirmware(splitRawQemu('-kernel /boot/vmlinuz')));
  t.notOk(rawQemuReplacesFirmware(splitRawQemu('-m 1G')));
});

const base: ConfSection[] = [
  { name: 'machine', comment: 'Machine', entries: { type: 'q35', usb: 'off' } },
  { name: 'global', entries: { driver: 'ICH9-LPC', property: 'disable_s3', value: '1' } },
  { name: 'global', entries: { driver: 'ICH9-LPC', property: 'disable_s4', value: '0' } },
  { name: 'device "qemu_gpu"', entries: { driver: 'virtio-vga' } },
];

t.test('raw.qemu.conf: set, replace, delete keys and sections, indexed sections, new sections', async (t) => {
  const out = applyConfOverride(
    base,
    ['[machine]', 'usb = on', 'kernel-irqchip = "split"', 'type =', '', '[global][1]', 'value = 1', '[device "qemu_gpu"]', '[object "x"]', 'qom-type=rng-random'].join('\n'),
  );
  t.same(out, [
    { name: 'machine', comment: 'Machine', entries: { usb: 'on', 'kernel-irqchip': 'split' } },
    { name: 'global', entries: { driver: 'ICH9-LPC', property: 'disable_s3', value: '1' } },
    { name: 'global', entries: { driver: 'ICH9-LPC', property: 'disable_s4', value: '1' } },
    { name: 'object "x"', entries: { 'qom-type': 'rng-random' } },
  ]);
  t.same(base[0].entries, { type: 'q35', usb: 'off' }, 'the input is not modified');
  t.same(applyConfOverride(base, '[global][5]\na=b').at(-1), { name: 'global', entries: { a: 'b' } });
  t.throws(() => applyConfOverride(base, 'usb = on'), /Expected section header, got: "usb = on"/);
  t.throws(() => applyConfOverride(base, '[]'), /Invalid section header/);
  t.throws(() => applyConfOverride(base, '[machine]x'), /Invalid section index/);
  t.throws(() => applyConfOverride(base, '[machine]\nnoequals'), /Invalid property override line/);
  t.throws(() => applyConfOverride(base, '[machine]\na = "unterminated'), /Invalid quoted value/);
});

t.test('rendering sorts keys, skips empty values, refuses quotes', async (t) => {
  t.equal(renderConf([{ name: 'machine', comment: 'Machine', entries: { usb: 'off', type: 'q35', x: '' } }]), '# Machine\n[machine]\ntype = "q35"\nusb = "off"\n\n');
  t.throws(() => renderConf([{ name: 'drive', entries: { file: 'a"b' } }]), /cannot contain quotes or newlines/);
});

function section(sections: ConfSection[], name: string): Record<string, string> | undefined {
  return sections.find((s) => s.name === name)?.entries;
}

t.test('the built config: CPU, memory, firmware, control sockets, argv', async (t) => {
  const l = buildQemuConfig(testQemuSpec({ rawQemu: "-device 'virtio-balloon-pci'" }));
  t.equal(l.binary, 'qemu-system-x86_64');
  t.same(section(l.sections, 'smp-opts'), { cpus: '2', sockets: '1', cores: '2', threads: '1' });
  t.same(section(l.sections, 'memory'), { size: '512M' });
  t.equal(section(l.sections, 'object "mem0"')?.share, 'on');
  const pflash = l.sections.filter((s) => s.name === 'drive');
  t.same(pflash.map((s) => [s.entries.file, s.entries.unit, s.entries.readonly]), [
    ['/usr/share/OVMF/OVMF_CODE_4M.fd', '0', 'on'],
    ['/vm/config/qemu.nvram', '1', undefined],
  ]);
  t.same(section(l.sections, 'chardev "monitor"'), { backend: 'socket', path: '/run/v1/qemu.monitor', server: 'on', wait: 'off' });
  t.same(section(l.sections, 'chardev "console"'), { backend: 'ringbuf', size: '1048576' });
  t.equal(section(l.sections, 'device "qemu_agent"')?.name, 'org.linuxcontainers.incus');
  t.equal(section(l.sections, 'chardev "qemu_agent"')?.path, '/run/v1/qemu.agent');
  const a = l.args.join(' ');
  t.match(a, /-accel tcg -cpu max/);
  t.match(a, /-daemonize/);
  t.match(a, /-serial chardev:console -qmp chardev:monitor -nodefaults -no-user-config -readconfig \/run\/v1\/qemu.conf -pidfile \/run\/v1\/qemu.pid -D \/logs\/v1\/qemu.log/);
  t.same(l.args.slice(-2), ['-device', 'virtio-balloon-pci'], 'raw.qemu goes last');
  t.notOk(l.args.includes('-S'));
  t.ok(buildQemuConfig(testQemuSpec({ startPaused: true })).args.includes('-S'));
  t.match(l.conf, /\[device "dev-qemu_serial"\]\ndriver = "virtio-serial-pci"/);
});

t.test('drives, NICs, shares, SPICE', async (t) => {
  const l = buildQemuConfig(
    testQemuSpec({
      drives: [
        { id: 'root', file: '/pool/v1/root.img', format: 'raw', bus: 'virtio-scsi', bootIndex: 0 },
        { id: 'data', file: '/pool/d.qcow2', format: 'qcow2', bus: 'virtio-blk', readonly: true, cache: 'none' },
      ],
      nics: [{ id: 'eth0', tap: 'tap1234', mac: '00:16:3E:AA:BB:CC', bootIndex: 1 }],
      shares: [
        { id: 'fs', tag: 'fs', protocol: 'virtiofs', socket: '/run/v1/fs.sock' },
        { id: 'p9', tag: 'p9', protocol: '9p', path: '/srv/share', readonly: true },
      ],
      spice: true,
    }),
  );
  t.equal(section(l.sections, 'device "qemu_scsi"')?.driver, 'virtio-scsi-pci');
  t.same(section(l.sections, 'drive "incus_root"'), { file: '/pool/v1/root.img', format: 'raw', if: 'none', cache: 'writeback', readonly: 'off', discard: 'unmap' });
  t.same(section(l.sections, 'device "dev-incus_root"'), { drive: 'incus_root', serial: 'incus_root', driver: 'scsi-hd', bus: 'qemu_scsi.0', channel: '0', 'scsi-id': '0', lun: '1', bootindex: '0' });
  t.same(section(l.sections, 'drive "incus_data"'), { file: '/pool/d.qcow2', format: 'qcow2', if: 'none', cache: 'none', readonly: 'on', discard: '' });
  t.equal(section(l.sections, 'device "dev-incus_data"')?.driver, 'virtio-blk-pci');
  t.same(section(l.sections, 'netdev "incus_eth0"'), { type: 'tap', ifname: 'tap1234', script: 'no', downscript: 'no', vhost: 'off' });
  t.same(section(l.sections, 'device "dev-incus_eth0"'), { driver: 'virtio-net-pci', netdev: 'incus_eth0', mac: '00:16:3e:aa:bb:cc', bootindex: '1' });
  t.same(section(l.sections, 'device "dev-incus_fs-virtio-fs"'), { driver: 'vhost-user-fs-pci', chardev: 'incus_fs', tag: 'fs' });
  t.same(section(l.sections, 'fsdev "incus_p9"'), { fsdriver: 'local', path: '/srv/share', security_model: 'none', readonly: 'on' });
  t.same(section(l.sections, 'spice'), { unix: 'on', 'disable-ticketing': 'on', addr: '/run/v1/qemu.spice' });
  t.throws(() => buildQemuConfig(testQemuSpec({ drives: [{ id: 'bad name', file: '/x', format: 'raw', bus: 'virtio-blk' }] })), /Invalid disk name "bad name"/);
  t.throws(() => buildQemuConfig(testQemuSpec({ nics: [{ id: 'eth0', tap: 't', mac: 'zz' }] })), /Invalid MAC address "zz"/);
  t.throws(() => buildQemuConfig(testQemuSpec({ cpus: 0 })), RangeError);
  t.throws(() => buildQemuConfig(testQemuSpec({ memoryBytes: 1024 })), /at least 32MiB/);
});

t.test('macvtap NICs: netdev by inherited fd (3, 4, ... in NIC order), tap NICs by name', async (t) => {
  const l = buildQemuConfig(
    testQemuSpec({
      nics: [
        { id: 'eth0', tap: 'mac01234567', fd: 41, mac: '10:66:6a:00:00:01' },
        { id: 'eth1', tap: 'tap1234', mac: '10:66:6a:00:00:02' },
        { id: 'eth2', tap: 'mac89abcdef', fd: 17, mac: '10:66:6a:00:00:03', vhost: true },
      ],
    }),
  );
  t.same(l.fds, [41, 17], 'the descriptors QEMU inherits, in NIC order');
  t.same(section(l.sections, 'netdev "incus_eth0"'), { type: 'tap', fd: '3', vhost: 'off' }, 'no ifname/script with fd (QEMU refuses both)');
  t.same(section(l.sections, 'netdev "incus_eth1"'), { type: 'tap', ifname: 'tap1234', script: 'no', downscript: 'no', vhost: 'off' });
  t.same(section(l.sections, 'netdev "incus_eth2"'), { type: 'tap', fd: '4', vhost: 'on' });
  t.same(buildQemuConfig(testQemuSpec({})).fds, [], 'none without macvtaps');
});

t.test('raw.qemu.conf applies to the generated config; -kernel drops the firmware', async (t) => {
  const l = buildQemuConfig(testQemuSpec({ rawQemuConf: '[chardev "console"]\nsize = 4096\n[device "dev-qemu_rng"]' }));
  t.same(section(l.sections, 'chardev "console"'), { backend: 'ringbuf', size: '4096' });
  t.notOk(section(l.sections, 'device "dev-qemu_rng"'));
  const k = buildQemuConfig(testQemuSpec({ firmware: null, rawQemu: '-kernel /k -initrd /i' }));
  t.equal(k.sections.filter((s) => s.name === 'drive').length, 0);
  t.throws(() => buildQemuConfig(testQemuSpec({ firmware: null })), /No UEFI firmware/);
});

t.test('accelerator: KVM only with hardware KVM, never kvm_pvm alone', async (t) => {
  const pick = (kvmDeviceUsable: boolean, modules: string[], cpuHasVirtFlags: boolean) =>
    chooseAccelerator({ kvmDeviceUsable, modules: new Set(modules), cpuHasVirtFlags });
  t.same(pick(true, ['kvm_intel'], true).args, ['-accel', 'kvm', '-cpu', 'host']);
  t.equal(pick(true, ['kvm_amd'], false).accel, 'kvm');
  t.equal(pick(true, [], true).accel, 'kvm');
  const pvm = pick(true, ['kvm_pvm'], false);
  t.same(pvm.args, ['-accel', 'tcg', '-cpu', 'max']);
  t.match(pvm.reason, /kvm_pvm/);
  t.equal(pick(false, ['kvm_intel'], true).accel, 'tcg');
  t.equal(pick(true, [], false).accel, 'tcg');
});
