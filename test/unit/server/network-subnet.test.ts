import t from 'tap';
import { contains, formatCidr, formatIp, formatNetwork, nthAddress, overlaps, parseCidr, parseIp } from '../../../lib/server/network/cidr';
import type { AddressUse } from '../../../lib/server/network/interface';
import { conflictOf, pickSubnetV4, pickSubnetV6 } from '../../../lib/server/network/subnet';

const c = (s: string) => parseCidr(s)!;

t.test('addresses and prefixes parse and format', async (t) => {
  t.equal(formatIp(4, parseIp('10.1.2.3')!.addr), '10.1.2.3');
  t.equal(formatIp(6, parseIp('fd42:0:0:1::1')!.addr), 'fd42:0:0:1::1');
  t.equal(formatIp(6, parseIp('2001:db8:0:0:1:0:0:1')!.addr), '2001:db8::1:0:0:1', 'longest zero run shortened');
  t.equal(formatIp(6, parseIp('::ffff:10.0.0.1')!.addr), '::ffff:a00:1', 'embedded IPv4 tail');
  t.equal(formatIp(6, parseIp('::')!.addr), '::');
  t.equal(parseIp('10.1.2'), null);
  t.equal(parseIp('fd42::zz'), null);
  t.equal(parseCidr('10.0.0.1'), null, 'a prefix is required');
  t.equal(parseCidr('10.0.0.1/33'), null);
  t.equal(parseCidr('10.0.0.300/24'), null);
  t.equal(formatNetwork(c('10.1.2.77/24')), '10.1.2.0/24');
  t.equal(formatCidr(c('fd42:1::1/64')), 'fd42:1::1/64');
  t.equal(formatNetwork(c('fd42:1:2:3:4::1/64')), 'fd42:1:2:3::/64');
});

t.test('overlap, containment and offsets', async (t) => {
  t.ok(overlaps(c('10.0.0.0/8'), c('10.1.2.1/24')), 'a /8 holds a /24');
  t.ok(overlaps(c('10.1.2.1/24'), c('10.0.0.0/8')), 'either way round');
  t.notOk(overlaps(c('10.1.2.1/24'), c('10.1.3.1/24')));
  t.notOk(overlaps(c('10.1.2.1/24'), c('fd42::1/64')), 'families never overlap');
  t.ok(contains(c('10.1.2.1/24'), parseIp('10.1.2.200')!));
  t.notOk(contains(c('10.1.2.1/24'), parseIp('10.1.3.1')!));
  t.equal(formatIp(4, nthAddress(c('10.1.2.1/24'), 2)), '10.1.2.2');
  t.equal(formatIp(4, nthAddress(c('10.1.2.1/24'), -2)), '10.1.2.254');
  t.equal(formatIp(6, nthAddress(c('fd42:1::1/64'), -1)), 'fd42:1::ffff:ffff:ffff:ffff');
});

const use = (host: string[], networks: string[] = []): AddressUse => ({
  host: host.map((h) => ({ cidr: c(h), what: `route ${h}` })),
  networks: networks.map((n) => ({ cidr: c(n), what: `network "${n}"` })),
});

/** A random source replaying fixed values. */
const seq = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

t.test('auto IPv4 subnets avoid routes, addresses and other networks', async (t) => {
  t.equal(pickSubnetV4(use([]), seq(5, 6)), '10.5.6.1/24', 'a 10.x.y.1/24');
  t.equal(pickSubnetV4(use(['10.5.6.0/24']), seq(5, 6, 7, 8)), '10.7.8.1/24', 'a taken route is skipped');
  t.equal(pickSubnetV4(use(['10.5.0.0/16']), seq(5, 6, 5, 9, 9, 9)), '10.9.9.1/24', 'so is anything inside a wider route');
  t.equal(pickSubnetV4(use([], ['10.5.6.1/24']), seq(5, 6, 1, 1)), '10.1.1.1/24', 'and another managed network');
  t.equal(pickSubnetV4(use(['10.0.0.0/8'])), null, 'null when nothing is free');
  for (let i = 0; i < 50; i++) t.equal(conflictOf(c(pickSubnetV4(use(['10.0.0.0/9']))!), use(['10.0.0.0/9'])), null);
});

t.test('auto IPv6 subnets are fd42:…::1/64 and free', async (t) => {
  t.equal(pickSubnetV6(use([]), seq(1, 2, 0xabcd)), 'fd42:1:2:abcd::1/64');
  t.equal(pickSubnetV6(use(['fd42:1:2:abcd::/64']), seq(1, 2, 0xabcd, 3, 4, 5)), 'fd42:3:4:5::1/64');
  t.equal(pickSubnetV6(use(['fd42::/16'])), null);
  t.equal(conflictOf(c('10.1.2.1/24'), use([], ['10.1.2.1/24'])), 'network "10.1.2.1/24"', 'the conflict is named');
});
