import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { mergeRunConfigs } from '../../../lib/server/instance/devices/run-config';
import { deviceLxcLines } from '../../../lib/server/instance/drivers/lxc/device-lines';
import type { DevicesMap } from '../../../lib/api/instance';
import type { DeviceStartContext, DeviceValidateContext } from '../../../lib/server/instance/devices/interface';
import { nicDevice } from '../../../lib/server/instance/devices/nic';
import { volatileToReset } from '../../../lib/server/instance/devices/volatile-reset';
import { derivedMac, missingNicVolatile, nicHostName, nicHostNameVolatile, nicHostNames, nicHwaddr, nicIndex, nicInterfaceName } from '../../../lib/server/instance/devices/nic-common';
import type { InstanceRuntime } from '../../../lib/server/instance/interface';

const inst = (devices: DevicesMap, config: Record<string, string> = { 'volatile.uuid': 'u-1' }): InstanceRuntime => ({
  project: 'default',
  type: 'container',
  name: 'c1',
  expandedConfig: config,
  expandedDevices: devices,
  volumePath: '/nonexistent',
  idmappedRootfs: false,
  idmap: null,
});

// A /sys with one bridge, br0 (bridged NICs check their parent at start).
const sysRoot = mkdtempSync(join(tmpdir(), 'nic-sys-'));
mkdirSync(join(sysRoot, 'class/net/br0/bridge'), { recursive: true });
t.teardown(() => rmSync(sysRoot, { recursive: true, force: true }));

const ctx = (rt: InstanceRuntime, name: string): DeviceStartContext => ({
  inst: rt,
  name,
  config: rt.expandedDevices[name]!,
  varDir: '/nonexistent',
  dirName: 'c1',
  setCgroup: async () => undefined,
  devicesDir: '/nonexistent',
  logDir: '/nonexistent',
  host: { devRoot: '/dev', sysRoot, procRoot: '/proc', devicesCgroup: 1 },
});

const vctx = (nets: Record<string, Record<string, string>> = {}): DeviceValidateContext => ({
  profile: false,
  poolExists: () => true,
  network: (n) => (nets[n] ? { nicType: 'bridged', config: nets[n]! } : undefined),
});

t.test('interface names, indices and derived values', async (t) => {
  const devices: DevicesMap = {
    root: { type: 'disk', path: '/', pool: 'p' },
    eth0: { type: 'nic', network: 'br0', name: 'eth0' },
    net1: { type: 'nic', network: 'br0' },
    aaa: { type: 'nic', nictype: 'p2p' },
    custom: { type: 'nic', nictype: 'p2p', name: 'eth1' },
  };
  t.equal(nicInterfaceName(devices, 'eth0'), 'eth0');
  t.equal(nicInterfaceName(devices, 'custom'), 'eth1');
  t.equal(nicInterfaceName(devices, 'aaa'), 'eth2', 'unnamed NICs take the first free ethN in device order');
  t.equal(nicInterfaceName(devices, 'net1'), 'eth3');
  t.same(['aaa', 'custom', 'eth0', 'net1'].map((d) => nicIndex(devices, d)), [0, 1, 2, 3], 'lxc.net indices follow device names');
  const mac = derivedMac('u-1/eth0');
  t.match(mac, /^10:66:6a(:[0-9a-f]{2}){3}$/, 'Incus MAC range');
  t.equal(derivedMac('u-1/eth0'), mac, 'stable');
  t.not(derivedMac('u-2/eth0'), mac, 'per instance');
  const rt = inst(devices);
  t.equal(nicHwaddr(rt, 'eth0', devices.eth0!), mac, 'derived from volatile.uuid and the device');
  t.equal(nicHwaddr(inst(devices, { 'volatile.eth0.hwaddr': '10:66:6A:AA:BB:CC' }), 'eth0', devices.eth0!), '10:66:6a:aa:bb:cc', 'the recorded one wins');
  t.equal(nicHwaddr(rt, 'eth0', { ...devices.eth0!, hwaddr: '00:16:3e:00:00:01' }), '00:16:3e:00:00:01', 'a configured one wins');
  const host = nicHostName(rt, 'eth0', devices.eth0!);
  t.match(host, /^veth[0-9a-f]{8}$/);
  t.ok(host.length <= 15, 'fits IFNAMSIZ');
  t.equal(nicHostName(rt, 'eth0', { ...devices.eth0!, host_name: 'myhost' }), 'myhost');
  t.not(nicHostName({ ...rt, name: 'c3' }, 'eth0', devices.eth0!), host, 'a backup imported under another name (same UUID) gets its own veth');
  t.not(nicHostName({ ...rt, project: 'p2' }, 'eth0', devices.eth0!), host, 'and so does one imported into another project');
  t.same(Object.keys(nicHostNames(rt)).sort(), ['eth0', 'eth1', 'eth2', 'eth3']);
  t.same(
    missingNicVolatile({ project: 'default', name: 'c1', config: { 'volatile.uuid': 'u-1', 'volatile.net1.hwaddr': 'x' } }, devices),
    {
      'volatile.eth0.hwaddr': mac,
      'volatile.aaa.hwaddr': derivedMac('u-1/aaa'),
      'volatile.custom.hwaddr': derivedMac('u-1/custom'),
    },
    'only NICs without a MAC yet',
  );
});

t.test('liblxc lines per NIC type', async (t) => {
  const rt = inst({
    a: { type: 'nic', network: 'br0', name: 'eth0', mtu: '1400' },
    b: { type: 'nic', nictype: 'p2p', name: 'p0', host_name: 'hp0' },
    c: { type: 'nic', nictype: 'macvlan', parent: 'up0', name: 'm0' },
    d: { type: 'nic', nictype: 'routed', 'ipv4.address': '10.9.0.5,10.9.0.6', name: 'r0', host_name: 'hr0' },
  });
  const lines = async (n: string) => deviceLxcLines(mergeRunConfigs([(await nicDevice.start!(ctx(rt, n)))!]), 1).join('\n');
  const a = await lines('a');
  t.match(a, /^lxc\.net\.0\.type = veth$/m);
  t.match(a, /^lxc\.net\.0\.link = br0$/m);
  t.match(a, /^lxc\.net\.0\.name = eth0$/m);
  t.notMatch(a, /^lxc\.net\.0\.mtu/m, 'a bridged NIC leaves its MTU to postStart (the host end keeps the bridge\'s)');
  t.match(a, /^lxc\.net\.0\.flags = up$/m);
  t.match(a, new RegExp(`^lxc\\.net\\.0\\.hwaddr = ${nicHwaddr(rt, 'a', rt.expandedDevices.a!)}$`, 'm'));
  t.match(a, /^lxc\.net\.0\.veth\.pair = veth[0-9a-f]{8}$/m);
  const b = await lines('b');
  t.match(b, /^lxc\.net\.1\.veth\.pair = hp0$/m);
  t.notMatch(b, /link =/, 'p2p joins no bridge');
  const c = await lines('c');
  t.match(c, /^lxc\.net\.2\.type = macvlan$/m);
  t.match(c, /^lxc\.net\.2\.macvlan\.mode = bridge$/m);
  t.match(c, /^lxc\.net\.2\.link = up0$/m);
  t.notMatch(c, /veth\.pair/, "a container's macvlan has no host-side name");
  const d = await lines('d');
  t.match(d, /^lxc\.net\.3\.veth\.mode = router$/m);
  t.match(d, /^lxc\.net\.3\.ipv4\.address = 10\.9\.0\.5\/32$/m);
  t.match(d, /^lxc\.net\.3\.ipv4\.address = 10\.9\.0\.6\/32$/m);
  t.match(d, /^lxc\.net\.3\.ipv4\.gateway = 169\.254\.0\.1$/m);
});

t.test("a VM's macvlan NIC: a macvtap with a stable host name, listed among the host names", async (t) => {
  const devices: DevicesMap = { eth0: { type: 'nic', nictype: 'macvlan', parent: 'up0' }, eth1: { type: 'nic', nictype: 'routed', 'ipv4.address': '10.9.0.5' } };
  const vm: InstanceRuntime = { ...inst(devices), type: 'virtual-machine' };
  const nic = (await nicDevice.start!(ctx(vm, 'eth0')))!.nics![0]!;
  t.equal(nic.kind, 'macvlan');
  t.equal(nic.link, 'up0');
  t.equal(nic.device, 'eth0', 'errors can name the device');
  t.match(nic.hostName, /^mac[0-9a-f]{8}$/, 'named like Incus (mac prefix), fits IFNAMSIZ');
  t.equal((await nicDevice.start!(ctx(vm, 'eth0')))!.nics![0]!.hostName, nic.hostName, 'the same name at every start (found again after a daemon restart)');
  t.same(nicHostNames(vm), { eth0: nic.hostName, eth1: nicHostName(vm, 'eth1', devices.eth1!) }, 'the macvtap is among the host names a restarted daemon removes');
  t.same(Object.keys(nicHostNames(inst(devices))), ['eth1'], "a container's macvlan has none");
});

t.test('validation names the device and the key', async (t) => {
  const v = (config: Record<string, string>, c = vctx({ br0: { 'ipv4.address': '10.1.2.1/24' } })) => () => nicDevice.validate('eth9', { type: 'nic', ...config }, c);
  t.doesNotThrow(v({ network: 'br0' }));
  t.doesNotThrow(v({ network: 'br0', 'ipv4.address': '10.1.2.50', hwaddr: '10:66:6a:00:00:09', name: 'eth9', 'limits.ingress': '10Mbit' }));
  t.throws(v({}), /Invalid device "eth9": Missing "nictype" or "network"/);
  t.throws(v({ network: 'nope' }), /Invalid device "eth9": Error loading network config for "nope": Network not found/);
  t.throws(v({ network: 'br0', parent: 'br0' }), /"parent" property in conjunction with "network"/);
  t.throws(v({ network: 'br0', 'ipv4.address': '10.1.3.50' }), /Device IP address "10.1.3.50" not within network "br0" subnet/);
  t.throws(v({ network: 'br0', 'ipv4.address': '10.1.2.1' }), /IP address "10.1.2.1" is assigned to parent managed network device "br0"/);
  t.throws(v({ network: 'br0', 'ipv6.address': 'fd42::5' }), /Cannot specify "ipv6.address" when DHCP or "ipv6.dhcp.stateful" are disabled/);
  t.throws(v({ network: 'br0', nictype: 'bridged' }), /Cannot use "nictype" property in conjunction with "network" property/);
  t.throws(v({ network: 'br0', mtu: '1400' }), /Cannot use "mtu" property in conjunction with "network" property/);
  t.throws(v({ nictype: 'bridged', parent: 'br0', 'ipv4.address': '10.1.3.50' }), /not within network "br0" subnet/, 'a parent that is a managed network is checked as one');
  t.throws(
    v({ network: 'br0', 'ipv4.address': '10.1.2.50' }, vctx({ br0: { 'ipv4.address': '10.1.2.1/24', 'ipv4.dhcp': 'false' } })),
    /Cannot specify "ipv4.address" when DHCP is disabled \(unless using security.ipv4_filtering\) on network "br0"/,
  );
  t.throws(v({ network: 'br0', hwaddr: 'nope' }), /Invalid value for "hwaddr"/);
  t.throws(v({ nictype: 'p2p', mtu: '10' }), /Invalid value for "mtu"/);
  t.throws(v({ network: 'br0', name: 'a/b' }), /Invalid value for "name"/);
  t.throws(v({ network: 'br0', 'limits.ingress': 'fast' }), /Invalid value for "limits.ingress"/);
  t.throws(v({ network: 'br0', bogus: '1' }), /Unknown key "bogus"/);
  t.throws(v({ nictype: 'ipvlan', parent: 'x' }), /"nictype"/);
  t.throws(v({ nictype: 'macvlan', parent: 'no-such-if0' }), /Invalid value for "parent": Parent interface "no-such-if0" doesn't exist/);
  t.doesNotThrow(v({ nictype: 'bridged', parent: 'no-such-if0' }), 'as Incus: a bridged parent is looked at when the NIC starts');
  t.throws(v({ nictype: 'macvlan' }), /Missing "parent"/);
  t.throws(v({ nictype: 'routed' }), /Routed NICs need "ipv4.address" or "ipv6.address"/);
  t.throws(v({ nictype: 'routed', 'ipv4.address': '10.0.0.1/8' }), /"ipv4.address"/);
  t.doesNotThrow(v({ nictype: 'p2p', 'ipv4.routes': '10.5.0.0/16', host_name: 'hp1' }));
  t.throws(v({ nictype: 'p2p', host_name: 'this-is-too-long-for-linux' }), /"host_name"/);
  t.throws(v({ nictype: 'p2p', parent: 'x' }), /Unknown key "parent"/, 'keys are per NIC type');
});

t.test('bridged NIC clash checks, VLAN keys, attached / connected', async (t) => {
  const nics = [{ instance: 'C1', project: 'default', device: 'eth0', hwaddr: '10:66:6a:00:00:01', ipv4: '10.1.2.50', ipv6: '', vlan: '' }];
  const c = (name = 'c1'): DeviceValidateContext => ({ ...vctx({ br0: { 'ipv4.address': '10.1.2.1/24' } }), instance: { project: 'default', name }, networkNics: () => nics });
  const v = (config: Record<string, string>, cx = c()) => () => nicDevice.validate('eth1', { type: 'nic', ...config }, cx);
  t.throws(v({ network: 'br0' }, c('C1')), /Instance DNS name "c1" conflict between "eth1" and "eth0" because both are connected to same network/);
  t.throws(v({ network: 'br0' }), /Instance DNS name "c1" already used on network/, 'another instance, same name but for case');
  t.doesNotThrow(v({ network: 'br0' }, c('c1x')), 'another instance name passes the DNS check');
  t.doesNotThrow(v({ network: 'br0', vlan: '1' }), 'another VLAN does not clash');
  t.throws(v({ network: 'br0', hwaddr: '10:66:6A:00:00:01' }, c('c2')), /MAC address "10:66:6a:00:00:01" already defined on another NIC/);
  t.throws(v({ network: 'br0', 'ipv4.address': '10.1.2.50' }, c('c2')), /IP address "10.1.2.50" already defined on another NIC/);
  t.doesNotThrow(v({ network: 'br0', 'ipv4.address': '10.1.2.51' }, c('c2')));
  t.throws(v({ network: 'br0', vlan: '4095' }, c('c2')), /Out of VLAN ID range \(0-4094\) "4095"/);
  t.throws(v({ network: 'br0', vlan: '5', 'vlan.tagged': '5,6' }, c('c2')), /Tagged VLAN ID "5" cannot be the same as untagged VLAN ID/);
  t.doesNotThrow(v({ network: 'br0', vlan: 'none', 'vlan.tagged': '6,10-12' }, c('c2')));
  t.throws(v({ network: 'br0', attached: 'maybe' }, c('c2')), /Invalid value for "attached"/);
  t.doesNotThrow(v({ network: 'br0', attached: 'false', connected: 'no' }, c('c2')));
  t.throws(v({ nictype: 'macvlan', parent: 'lo', connected: 'false' }, { ...c('c2'), instanceType: 'container' }), /The "connected" option is only supported on virtual machines for macvlan NICs/);
});

t.test('volatile keys reset by a device change', async (t) => {
  const config = { 'volatile.eth0.hwaddr': 'm', 'volatile.eth0.host_name': 'h', 'volatile.d.x': '1', 'volatile.uuid': 'u' };
  const nic = { type: 'nic', network: 'br0' };
  t.same(volatileToReset(config, { eth0: nic }, { eth0: nic }), [], 'unchanged: nothing');
  t.same(volatileToReset(config, { eth0: nic }, { eth0: { ...nic, hwaddr: 'x' } }), ['volatile.eth0.hwaddr'], 'a key the config now sets');
  t.same(volatileToReset(config, { eth0: nic }, { eth0: { type: 'nic', nictype: 'p2p' } }).sort(), ['volatile.eth0.host_name', 'volatile.eth0.hwaddr'], 'NIC type changed: all');
  t.same(volatileToReset(config, { eth0: nic, d: { type: 'none' } }, { eth0: nic }), ['volatile.d.x'], 'removed device: all its keys');
});

t.test('instances.nic.host_name=mac: host names from the MAC, recorded in volatile', async (t) => {
  const inst = { project: 'default', name: 'c1', config: { 'volatile.eth0.hwaddr': '10:66:6a:aa:bb:cc' } };
  const devices: DevicesMap = { eth0: { type: 'nic', network: 'br0' }, eth1: { type: 'nic', nictype: 'p2p', host_name: 'mine' }, m: { type: 'nic', nictype: 'macvlan', parent: 'x' } };
  t.same(nicHostNameVolatile(inst, devices, 'mac'), { 'volatile.eth0.host_name': 'inc666aaabbcc' }, 'Incus MACDevName: "inc" and the MAC without its first byte');
  t.same(nicHostNameVolatile(inst, devices, ''), {}, 'random mode: nothing to record');
  const recorded = { ...inst, config: { ...inst.config, 'volatile.eth0.host_name': 'inc666aaabbcc' } };
  t.same(nicHostNameVolatile(recorded, devices, 'random'), { 'volatile.eth0.host_name': '' }, 'a name left from mac mode is removed');
  t.equal(nicHostName({ ...recorded, expandedConfig: recorded.config }, 'eth0', devices.eth0!), 'inc666aaabbcc', 'the recorded name is the one used');
});
