/** The nftables rules of proxy devices in NAT mode, as Incus writes them. */
import t from 'tap';
import { dnatRanges, portRanges, proxyNatScript } from '../../../lib/server/network/nft-proxy-nat';

t.test('ports fold into ranges', async (t) => {
  t.same(portRanges([80]), [[80, 1]]);
  t.same(portRanges([80, 81, 82, 90, 91]), [[80, 3], [90, 2]]);
});

t.test('listen ranges map to target ranges in as few rules as Incus', async (t) => {
  t.same(dnatRanges({ listenPorts: [1234, 1235], targetPorts: [1234] }), [[[1234, 2], [1234, 1]]], 'one target port serves the whole range');
  t.same(dnatRanges({ listenPorts: [1234, 1235], targetPorts: [1234, 1235] }), [[[1234, 2], [1234, 2]]], 'identical ranges map as one');
  t.same(dnatRanges({ listenPorts: [80, 81], targetPorts: [8080, 8081] }), [
    [[80, 1], [8080, 1]],
    [[81, 1], [8081, 1]],
  ], 'shifted ranges map port by port');
});

t.test('script: chains per device, rules as nft lists them', async (t) => {
  const v4 = proxyNatScript('c1.web', { protocol: 'tcp', listenAddress: '127.0.0.1', listenPorts: [1234], targetAddress: '10.0.0.2', targetPorts: [1234] });
  t.match(v4, /add chain inet incus prert\.c1\.web \{ type nat hook prerouting priority -100; policy accept; \}/);
  t.match(v4, /add rule inet incus prert\.c1\.web ip daddr 127\.0\.0\.1 tcp dport 1234 dnat ip to 10\.0\.0\.2:1234\n/);
  t.match(v4, /add rule inet incus out\.c1\.web ip daddr 127\.0\.0\.1 tcp dport 1234 dnat ip to 10\.0\.0\.2:1234\n/);
  t.match(v4, /add rule inet incus pstrt\.c1\.web ip saddr 10\.0\.0\.2 ip daddr 10\.0\.0\.2 tcp dport 1234 masquerade\n/);
  const range = proxyNatScript('c1.web', { protocol: 'tcp', listenAddress: '127.0.0.1', listenPorts: [1234, 1235], targetAddress: '10.0.0.2', targetPorts: [1234, 1235] });
  t.match(range, /tcp dport 1234-1235 dnat ip to 10\.0\.0\.2\n/, 'a target range keeps the listen port');
  const v6 = proxyNatScript('c1.web', { protocol: 'udp', listenAddress: '::1', listenPorts: [53], targetAddress: 'fd00::2', targetPorts: [53] });
  t.match(v6, /ip6 daddr ::1 udp dport 53 dnat ip6 to \[fd00::2\]:53/);
  const any = proxyNatScript('c1.web', { protocol: 'tcp', listenAddress: '0.0.0.0', listenPorts: [80], targetAddress: '10.0.0.2', targetPorts: [80] });
  t.match(any, /prert\.c1\.web meta nfproto ipv4 fib daddr type local tcp dport 80 dnat ip to 10\.0\.0\.2:80/, 'wildcard: any local address');
  t.match(any, /out\.c1\.web meta nfproto ipv4 ip daddr != 127\.0\.0\.0\/8 fib daddr type local tcp dport 80/, 'wildcard output: not loopback');
});
