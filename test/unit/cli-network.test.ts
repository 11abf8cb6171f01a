import t from 'tap';
import type { Network, NetworkAllocation } from '../../lib/api/network';
import { summarizeAllocations } from '../../lib/cli/commands/network-allocations-summary';
import { findNetworkDevice, nicForNetwork } from '../../lib/cli/commands/network-attach';
import { matchNetwork, parseColumns } from '../../lib/cli/commands/network-list';
import { networkInfoText } from '../../lib/cli/format/network-info';

const net = (over: Partial<Network>): Network => ({
  name: 'br0',
  description: '',
  type: 'bridge',
  managed: true,
  status: 'Created',
  config: { 'ipv4.address': '10.1.2.1/24' },
  used_by: [],
  locations: ['none'],
  project: 'default',
  ...over,
});

t.test('attach builds the device Incus builds', async (t) => {
  t.same(nicForNetwork(net({}), ''), { type: 'nic', network: 'br0' }, 'managed: network=');
  t.same(nicForNetwork(net({ managed: false }), 'eth1'), { type: 'nic', nictype: 'bridged', parent: 'br0', name: 'eth1' }, 'unmanaged bridge: bridged');
  t.same(nicForNetwork(net({ name: 'eth0', managed: false, type: 'physical' }), ''), { type: 'nic', nictype: 'macvlan', parent: 'eth0' }, 'other: macvlan');
});

t.test('detach finds the one device on the network', async (t) => {
  const devices = { root: { type: 'disk', path: '/' }, eth0: { type: 'nic', network: 'br0' }, eth1: { type: 'nic', nictype: 'bridged', parent: 'br1' } };
  t.equal(findNetworkDevice(devices, 'br0'), 'eth0');
  t.equal(findNetworkDevice(devices, 'br1'), 'eth1', 'parent= counts too');
  t.throws(() => findNetworkDevice(devices, 'br9'), /No device found for this network/);
  t.throws(() => findNetworkDevice({ ...devices, eth2: { type: 'nic', network: 'br0' } }, 'br0'), /More than one device matches/);
  t.equal(findNetworkDevice({ ...devices, eth2: { type: 'nic', network: 'br0' } }, 'br0', 'eth2'), 'eth2');
  t.throws(() => findNetworkDevice(devices, 'br0', 'root'), /doesn't use the network/);
});

t.test('list columns and filters', async (t) => {
  t.same(parseColumns('nt4', { n: ['NAME', () => ''], t: ['TYPE', () => ''], '4': ['IPV4', () => ''] }).map(([n]) => n), ['NAME', 'TYPE', 'IPV4']);
  t.throws(() => parseColumns('nX', { n: ['NAME', () => ''] }), /Unknown column shorthand char 'X' in 'nX'/);
  t.ok(matchNetwork(net({}), ['br']), 'a bare word is a name prefix');
  t.ok(matchNetwork(net({}), ['type=bridge', 'config.ipv4.address=10.1.2.1/24']));
  t.notOk(matchNetwork(net({}), ['type=physical']));
});

t.test('network info text', async (t) => {
  const text = networkInfoText('br0', {
    addresses: [{ family: 'inet', address: '10.1.2.1', netmask: '24', scope: 'global' }],
    counters: { bytes_received: 2270, bytes_sent: 3260, packets_received: 20, packets_sent: 21 },
    hwaddr: '10:66:6a:00:00:01',
    mtu: 1500,
    state: 'up',
    type: 'broadcast',
    bond: null,
    bridge: { id: '8000.10:66:6a:00:00:01', stp: false, forward_delay: 1500, vlan_default: 0, vlan_filtering: false, upper_devices: ['veth1', 'veth2'] },
    vlan: null,
    ovn: null,
  });
  t.equal(
    text,
    [
      'Name: br0',
      'MAC address: 10:66:6a:00:00:01',
      'MTU: 1500',
      'State: up',
      'Type: broadcast',
      '',
      'IP addresses:',
      '  inet\t10.1.2.1/24 (global)',
      '',
      'Network usage:',
      '  Bytes received: 2.27kB',
      '  Bytes sent: 3.26kB',
      '  Packets received: 20',
      '  Packets sent: 21',
      '',
      'Bridge:',
      '  ID: 8000.10:66:6a:00:00:01',
      '  STP: false',
      '  Forward delay: 1500',
      '  Default VLAN ID: 0',
      '  VLAN filtering: false',
      '  Upper devices: veth1, veth2',
      '',
    ].join('\n'),
  );
});

t.test('list-allocations --summary folds used addresses into ranges per subnet', async (t) => {
  const alloc = (network: string, type: string, addresses: string): NetworkAllocation => ({ network, type, addresses, used_by: '', hwaddr: '', nat: false });
  const rows = summarizeAllocations([
    alloc('br1', 'instance', '10.0.0.3/32'),
    alloc('br1', 'network', '10.0.0.1/24'),
    alloc('br1', 'instance', '10.0.0.2/32'),
    alloc('br1', 'instance', '10.0.0.9/32'),
    alloc('br1', 'instance', '::ffff:10.0.0.4'),
    alloc('br1', 'network-forward', '192.0.2.7/32'),
    alloc('br1', 'network', 'fd42::1/64'),
    alloc('br1', 'instance', 'fd42::a/128'),
    alloc('br1', 'instance', 'fd42::b/128'),
    alloc('br1', 'network', '10.0.0.0/24'),
    alloc('a0', 'network', '10.9.0.1/24'),
  ]);
  t.same(rows, [
    { network: 'a0', subnet: '10.9.0.0/24', used: '' },
    { network: 'br1', subnet: '10.0.0.0/24', used: '10.0.0.2-10.0.0.4, 10.0.0.9' },
    { network: 'br1', subnet: 'fd42::/64', used: 'fd42::a-fd42::b' },
    { network: 'br1', subnet: 'external', used: '192.0.2.7' },
  ]);
  t.throws(() => summarizeAllocations([alloc('br1', 'network', 'nonsense')]), /Invalid subnet "nonsense" for network "br1"/);
  t.throws(() => summarizeAllocations([alloc('br1', 'instance', '10.0.0.300/32')]), /Invalid address "10.0.0.300\/32" for network "br1"/);
});
