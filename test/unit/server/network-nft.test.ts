import t from 'tap';
import { bridgeFirewall } from '../../../lib/server/network/drivers/bridge/driver';
import { applyScript, clearScript, networkChains } from '../../../lib/server/network/nftables';

t.test('a NATed bridge with the default firewall', async (t) => {
  const fw = bridgeFirewall('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv4.nat': 'true', 'ipv6.address': 'fd42:1::1/64', 'ipv6.nat': 'true' });
  const chains = networkChains(fw);
  t.same(chains.map((c) => c.name), ['pstrt.br0', 'fwd.br0', 'in.br0', 'out.br0']);
  t.same(chains[0]!.rules, ['ip saddr 10.1.2.0/24 ip daddr != 10.1.2.0/24 masquerade', 'ip6 saddr fd42:1::/64 ip6 daddr != fd42:1::/64 masquerade']);
  t.ok(chains[2]!.rules.includes('iifname "br0" udp dport 67 accept'), 'DHCPv4 in');
  t.ok(chains[2]!.rules.includes('iifname "br0" udp dport 53 accept'), 'DNS in');
  t.ok(chains[2]!.rules.includes('iifname "br0" udp dport 547 accept'), 'DHCPv6 in');
  t.ok(chains[3]!.rules.includes('oifname "br0" udp sport 67 accept'), 'DHCPv4 out');
  t.ok(chains[1]!.rules.includes('ip version 4 iifname "br0" accept'), 'forwarding');

  const script = applyScript(fw);
  t.match(script, /^add table inet incus\n/, 'the daemon\'s own table');
  t.match(script, 'add chain inet incus pstrt.br0 { type nat hook postrouting priority 100; policy accept; }\nflush chain inet incus pstrt.br0\n');
  t.match(script, 'add rule inet incus pstrt.br0 ip saddr 10.1.2.0/24 ip daddr != 10.1.2.0/24 masquerade\n');
});

t.test('options shape the rules; unwanted chains are dropped in the same script', async (t) => {
  const noNat = bridgeFirewall('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv4.nat': 'false' });
  t.notOk(networkChains(noNat).some((c) => c.name === 'pstrt.br0'), 'no NAT chain');
  t.match(applyScript(noNat), 'add chain inet incus pstrt.br0\nflush chain inet incus pstrt.br0\ndelete chain inet incus pstrt.br0\n', 'and the old one is removed');
  const snat = bridgeFirewall('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv4.nat': 'true', 'ipv4.nat.address': '192.0.2.9' });
  t.same(networkChains(snat)[0]!.rules, ['ip saddr 10.1.2.0/24 ip daddr != 10.1.2.0/24 snat ip to 192.0.2.9']);
  const closed = bridgeFirewall('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv4.firewall': 'false' });
  t.same(networkChains(closed), [], 'no firewall and no NAT: no chains at all');
  const noRouting = bridgeFirewall('br0', { 'ipv4.address': '10.1.2.1/24', 'ipv4.routing': 'false' });
  t.ok(networkChains(noRouting).find((c) => c.name === 'fwd.br0')!.rules.every((r) => r.endsWith('reject')), 'routing off rejects forwarding');
  t.same(bridgeFirewall('br0', { 'ipv4.address': 'none', 'ipv6.address': 'none' }), { name: 'br0', v4: null, v6: null });
});

t.test('clearing removes every chain of the network', async (t) => {
  const s = clearScript('br0');
  for (const k of ['pstrt', 'fwd', 'in', 'out']) t.match(s, `flush chain inet incus ${k}.br0\ndelete chain inet incus ${k}.br0\n`);
});
