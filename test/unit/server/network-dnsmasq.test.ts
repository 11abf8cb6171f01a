import t from 'tap';
import { dhcpv4Release, dhcpv6Release } from '../../../lib/server/network/dhcp-release';
import { dnsmasqArgs, dnsmasqPaths, rawConfigText, staticHostFile, staticHostLine, usesDnsmasq } from '../../../lib/server/network/drivers/bridge/dnsmasq-args';
import { mergeLeases, parseLeaseFile } from '../../../lib/server/network/leases';

const paths = dnsmasqPaths('/var/lib/incus', 'br0');
const opts = { user: 'nobody', group: 'nogroup', debug: false };

t.test('paths under $INCUS_DIR/networks/<name>', async (t) => {
  t.same(paths, {
    dir: '/var/lib/incus/networks/br0',
    leases: '/var/lib/incus/networks/br0/dnsmasq.leases',
    hosts: '/var/lib/incus/networks/br0/dnsmasq.hosts',
    raw: '/var/lib/incus/networks/br0/dnsmasq.raw',
    pid: '/var/lib/incus/networks/br0/dnsmasq.pid',
    log: '/var/lib/incus/logs/dnsmasq.br0.log',
  });
});

t.test('IPv4 and IPv6 with DHCP, RA and the default domain', async (t) => {
  const args = dnsmasqArgs('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv6.address': 'fd42:1::1/64' }, paths, opts);
  t.same(args, [
    '--keep-in-foreground',
    '--strict-order',
    '--bind-interfaces',
    '--except-interface=lo',
    '--pid-file=',
    '--no-ping',
    '--interface=br0',
    '--dhcp-rapid-commit',
    '--no-negcache',
    '--quiet-dhcp',
    '--quiet-dhcp6',
    '--quiet-ra',
    '--listen-address=10.1.2.1',
    '--dhcp-no-override',
    '--dhcp-authoritative',
    '--dhcp-leasefile=/var/lib/incus/networks/br0/dnsmasq.leases',
    '--dhcp-hostsfile=/var/lib/incus/networks/br0/dnsmasq.hosts',
    '--dhcp-range',
    '10.1.2.2,10.1.2.254,1h',
    '--listen-address=fd42:1::1',
    '--enable-ra',
    '--dhcp-range',
    '::,constructor:br0,ra-stateless,ra-names',
    '--dhcp-option-force=option6:dns-server,[fd42:1::1]',
    '-s',
    'incus',
    '--interface-name',
    '_gateway.incus,br0',
    '-S',
    '/incus/',
    '--conf-file=/var/lib/incus/networks/br0/dnsmasq.raw',
    '-u',
    'nobody',
    '-g',
    'nogroup',
  ]);
});

t.test('options change the command line', async (t) => {
  const a = dnsmasqArgs(
    'br0',
    {
      'ipv4.address': '10.1.2.1/24',
      'ipv4.dhcp.ranges': '10.1.2.100-10.1.2.150',
      'ipv4.dhcp.expiry': '2h',
      'ipv4.dhcp.gateway': '10.1.2.254',
      'bridge.mtu': '9000',
      'dns.domain': 'lab',
      'dns.search': 'lab,example.org',
      'dns.nameservers': '10.1.2.53,fd00::53',
    },
    paths,
    { user: null, group: null, debug: true },
  );
  t.notOk(a.includes('--quiet-dhcp'), 'debug keeps dnsmasq talkative');
  t.ok(a.join(' ').includes('--dhcp-range 10.1.2.100,10.1.2.150,2h'), 'ranges and expiry');
  t.ok(a.includes('--dhcp-option-force=3,10.1.2.254'), 'gateway');
  t.ok(a.includes('--dhcp-option-force=6,10.1.2.53'), 'IPv4 nameservers');
  t.ok(a.includes('--dhcp-option-force=26,9000'), 'MTU');
  t.ok(a.includes('--dhcp-option-force=119,lab,example.org'), 'search domains');
  t.ok(a.join(' ').includes('-s lab --interface-name _gateway.lab,br0 -S /lab/'), 'domain');
  t.notOk(a.includes('-u'), 'no user to drop to');
  const noDhcp = dnsmasqArgs('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv4.dhcp': 'false', 'dns.mode': 'none' }, paths, opts);
  t.notOk(noDhcp.some((x) => x.startsWith('--dhcp-leasefile')), 'no DHCP');
  t.notOk(noDhcp.includes('-s'), 'no DNS domain with dns.mode=none');
  const stateful = dnsmasqArgs('br0', { 'ipv6.address': 'fd42:1::1/64', 'ipv6.dhcp.stateful': 'true' }, paths, opts);
  t.ok(stateful.join(' ').includes('--dhcp-range fd42:1::2,fd42:1::ffff:ffff:ffff:ffff,64,1h'), 'stateful DHCPv6 range');
  t.ok(usesDnsmasq({ 'ipv4.address': '10.0.0.1/24' }));
  t.notOk(usesDnsmasq({ 'ipv4.address': 'none', 'ipv6.address': 'none' }));
  t.equal(rawConfigText({ 'raw.dnsmasq': 'log-queries' }), 'log-queries\n');
  t.equal(rawConfigText({}), '\n');
});

t.test('per-NIC host entries: names for every NIC, reservations for static ones', async (t) => {
  const h = { instance: 'c1', project: 'default', device: 'eth0', hwaddr: '10:66:6a:00:00:01', ipv4: '', ipv6: '' };
  t.equal(staticHostFile(h), 'c1.eth0', 'as Incus: no prefix in the default project');
  t.equal(staticHostFile({ ...h, project: 'p1' }), 'p1_c1.eth0');
  t.equal(staticHostLine(h), '10:66:6a:00:00:01,c1\n');
  t.equal(staticHostLine({ ...h, ipv4: '10.1.2.50', ipv6: 'fd42:1::50' }), '10:66:6a:00:00:01,10.1.2.50,[fd42:1::50],c1\n');
});

t.test('leases: the file, statics and the gateway merged', async (t) => {
  const text = [
    '1795370074 10:66:6a:00:00:01 10.1.2.50 c1 01:10:66:6a:00:00:01',
    '1795370075 10:66:6a:00:00:02 10.1.2.60 * 01:10:66:6a:00:00:02',
    'duid 00:01:00:01:2c:aa',
    '1795370076 1234 fd42:1::99 c3 00:01:00:01',
    '',
  ].join('\n');
  const dyn = parseLeaseFile(text);
  t.same(dyn.map((d) => [d.address, d.hwaddr, d.hostname]), [
    ['10.1.2.50', '10:66:6a:00:00:01', 'c1'],
    ['10.1.2.60', '10:66:6a:00:00:02', ''],
    ['fd42:1::99', '', 'c3'],
  ]);
  const statics = [
    { instance: 'c1', project: 'default', device: 'eth0', hwaddr: '10:66:6a:00:00:01', ipv4: '10.1.2.50', ipv6: '' },
    { instance: 'c2', project: 'default', device: 'eth0', hwaddr: '10:66:6a:00:00:02', ipv4: '', ipv6: '' },
  ];
  const leases = mergeLeases('br0', { 'ipv4.address': '10.1.2.1/24' }, statics, dyn);
  t.same(
    leases.map((l) => [l.hostname, l.address, l.type]),
    [
      ['br0.gw', '10.1.2.1', 'gateway'],
      ['c1', '10.1.2.50', 'static'],
      ['c2', '10.1.2.60', 'dynamic'],
      ['c3', 'fd42:1::99', 'dynamic'],
    ],
    'a static lease is listed once; a nameless lease gets its instance name',
  );
});

t.test('DHCP release packets', async (t) => {
  const v4 = dhcpv4Release('0a:92:a7:0d:b7:d9', '192.0.2.178', '192.0.2.1');
  t.equal(v4[0], 1, 'a BOOTREQUEST');
  t.same([...v4.subarray(12, 16)], [192, 0, 2, 178], 'ciaddr: the leased address');
  t.equal(v4.subarray(28, 34).toString('hex'), '0a92a70db7d9', 'chaddr: the client MAC');
  t.same([...v4.subarray(236, 249)], [99, 130, 83, 99, 53, 1, 7, 54, 4, 192, 0, 2, 1], 'cookie, DHCPRELEASE, server id');
  const v6 = dhcpv6Release('00:01:02', 7, '2001:db8::5', 'aa:bb');
  t.equal(v6[0], 8, 'a DHCPv6 Release');
  t.equal(v6.subarray(4).toString('hex'), '00020002aabb' + '00010003000102' + '00030028' + '00000007' + '0'.repeat(16) + '00050018' + '20010db8000000000000000000000005' + '0'.repeat(16), 'server id, client id, IA_NA with the address');
});
