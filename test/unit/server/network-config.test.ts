import t from 'tap';
import { parseCidr } from '../../../lib/server/network/cidr';
import { fillBridgeConfig, validateBridgeConfig } from '../../../lib/server/network/drivers/bridge/config';
import type { AddressUse } from '../../../lib/server/network/interface';

const none: AddressUse = { host: [], networks: [] };
const fixed = () => 7;

t.test('defaults as Incus fills them at creation', async (t) => {
  t.same(fillBridgeConfig('br0', {}, none, { ipv6: true, random: fixed }), {
    'ipv4.address': '10.7.7.1/24',
    'ipv4.nat': 'true',
    'ipv6.address': 'fd42:7:7:7::1/64',
    'ipv6.nat': 'true',
  });
  t.same(fillBridgeConfig('br0', {}, none, { ipv6: false, random: fixed }), { 'ipv4.address': '10.7.7.1/24', 'ipv4.nat': 'true' }, 'no IPv6 on an IPv6-less host');
  t.same(
    fillBridgeConfig('br0', { 'ipv4.address': '192.168.5.1/24', 'ipv6.address': 'none' }, none, { ipv6: true }),
    { 'ipv4.address': '192.168.5.1/24', 'ipv6.address': 'none' },
    'explicit addresses are kept, without NAT',
  );
  t.same(fillBridgeConfig('br0', { 'ipv4.address': 'auto', 'ipv4.nat': 'false' }, none, { ipv6: false, random: fixed })['ipv4.nat'], 'false', 'an explicit nat stays');
  const full: AddressUse = { host: [{ cidr: parseCidr('10.0.0.0/8')!, what: 'route 10.0.0.0/8' }], networks: [] };
  t.throws(() => fillBridgeConfig('br0', {}, full, { ipv6: false }), /Invalid value for network "br0" option "ipv4.address": Failed to automatically find/);
});

t.test('an update replaces auto values but fills no defaults', async (t) => {
  t.same(fillBridgeConfig('br0', { 'ipv4.nat': 'true' }, none, { ipv6: true, defaults: false, random: fixed }), { 'ipv4.nat': 'true' }, 'unset addresses stay unset');
  t.same(fillBridgeConfig('br0', { 'ipv4.address': 'auto' }, none, { ipv6: false, defaults: false, random: fixed }), { 'ipv4.address': '10.7.7.1/24' }, 'auto is replaced, no NAT added');
});

t.test('every key and value is checked, the key named', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ 'ipv4.address': '10.0.0.300/24' }, /option "ipv4.address": Not an IPv4 address in CIDR/],
    [{ 'ipv4.address': '10.0.0.0/24' }, /option "ipv4.address": Cannot use the network address/],
    [{ 'ipv4.address': '10.0.0.255/24' }, /option "ipv4.address": Cannot use the broadcast address/],
    [{ 'ipv4.address': 'fd42::1/64' }, /option "ipv4.address"/],
    [{ 'ipv6.address': '10.1.1.1/24' }, /option "ipv6.address"/],
    [{ 'ipv4.nat': 'maybe' }, /option "ipv4.nat"/],
    [{ 'bridge.mtu': '65536' }, /option "bridge.mtu": MTU must be between/],
    [{ 'bridge.hwaddr': '01:00:00:00:00:01' }, /option "bridge.hwaddr": Cannot use a multicast/],
    [{ 'bridge.driver': 'openvswitch' }, /option "bridge.driver"/],
    [{ 'dns.domain': 'bad_domain!' }, /option "dns.domain"/],
    [{ 'dns.mode': 'fancy' }, /option "dns.mode"/],
    [{ 'ipv4.dhcp.expiry': '1 hour' }, /option "ipv4.dhcp.expiry"/],
    [{ 'ipv4.routes': '10.9.0.0/16,nope' }, /option "ipv4.routes": "nope"/],
    [{ 'bridge.external_interfaces': 'this-name-is-far-too-long' }, /option "bridge.external_interfaces"/],
    [{ 'no.such': 'x' }, /Invalid option for network "br0" option "no.such"/],
    [{ 'ipv4.address': '10.1.1.1/24', 'ipv4.dhcp.ranges': '10.1.2.5-10.1.2.9' }, /option "ipv4.dhcp.ranges": Range "10.1.2.5-10.1.2.9" is not within the network subnet 10.1.1.0\/24/],
    [{ 'ipv4.address': '10.1.1.1/24', 'ipv4.dhcp.gateway': '10.2.2.2' }, /option "ipv4.dhcp.gateway"/],
  ];
  for (const [config, why] of bad) t.throws(() => validateBridgeConfig('br0', config, none), why, JSON.stringify(config));
  t.doesNotThrow(() =>
    validateBridgeConfig(
      'br0',
      {
        'ipv4.address': '10.1.1.1/24',
        'ipv4.dhcp.ranges': '10.1.1.10-10.1.1.20',
        'ipv6.address': 'none',
        'raw.dnsmasq': 'log-queries',
        'user.note': 'anything',
        'dns.domain': 'lab.example',
      },
      none,
    ),
  );
});

t.test('overlapping subnets are refused, with what they overlap', async (t) => {
  const use: AddressUse = {
    host: [{ cidr: parseCidr('192.168.0.0/16')!, what: 'route 192.168.0.0/16 on eth0' }],
    networks: [{ cidr: parseCidr('10.5.5.1/24')!, what: 'network "incusbr0"' }],
  };
  t.throws(() => validateBridgeConfig('br1', { 'ipv4.address': '10.5.5.9/24' }, use), /option "ipv4.address": Subnet "10.5.5.0\/24" overlaps with network "incusbr0"/);
  t.throws(() => validateBridgeConfig('br1', { 'ipv4.address': '192.168.7.1/24' }, use), /overlaps with route 192.168.0.0\/16 on eth0/);
  t.doesNotThrow(() => validateBridgeConfig('br1', { 'ipv4.address': '10.5.6.1/24' }, use));
});

t.test('bridge names are plain interface names', async (t) => {
  const { BridgeDriver } = await import('../../../lib/server/network/drivers/bridge/driver');
  const { DnsmasqSupervisor } = await import('../../../lib/server/network/dnsmasq');
  const { Logger } = await import('../../../lib/server/log');
  const log = new Logger(null, false);
  const d = new BridgeDriver({ varDir: '/nonexistent', debug: false, log, dnsmasq: new DnsmasqSupervisor(log) });
  t.doesNotThrow(() => d.validateName('incusbr0'));
  t.doesNotThrow(() => d.validateName('br-lan.2'));
  for (const bad of ['', 'a-name-far-too-long', 'br 0', 'br/0', 'br"0', '-br', 'br;0']) t.throws(() => d.validateName(bad), /Invalid network name/, JSON.stringify(bad));
});
