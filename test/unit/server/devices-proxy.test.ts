/** proxy device addresses, validation and the forkproxy argv they become. */
import t from 'tap';
import { parseProxyAddress, proxyPairProblem, proxyPairs } from '../../../lib/server/instance/devices/proxy-address';
import { proxyDevice, proxySpec } from '../../../lib/server/instance/devices/proxy';
import { forkproxyArgs } from '../../../lib/native/forkproxy';

t.test('addresses', async (t) => {
  t.same(parseProxyAddress('tcp:127.0.0.1:80'), { type: 'tcp', address: '127.0.0.1', ports: [80] });
  t.same(parseProxyAddress('udp:[::1]:53'), { type: 'udp', address: '::1', ports: [53] });
  t.same(parseProxyAddress('tcp:0.0.0.0:8000-8002,9000').ports, [8000, 8001, 8002, 9000]);
  t.same(parseProxyAddress('tcp::80'), { type: 'tcp', address: '', ports: [80] }, 'empty address: every address');
  t.throws(() => parseProxyAddress('tcp:localhost:80'), /Not an IP address "localhost"/, 'as Incus: no host names');
  t.same(parseProxyAddress('unix:/run/x.sock'), { type: 'unix', address: '/run/x.sock', ports: [] });
  t.same(parseProxyAddress('unix:@abstract').address, '@abstract');
  t.throws(() => parseProxyAddress('sctp:1.2.3.4:1'), /Unknown protocol type "sctp"/);
  t.throws(() => parseProxyAddress('tcp:'), /Missing address/);
  t.throws(() => parseProxyAddress('tcp:127.0.0.1'), /Missing port/);
  t.throws(() => parseProxyAddress('tcp:127.0.0.1:0'), /Invalid port range/);
  t.throws(() => parseProxyAddress('tcp:127.0.0.1:70000'), /Invalid port range/);
  t.throws(() => parseProxyAddress('tcp:127.0.0.1:9-3'), /Invalid port range/);
  t.throws(() => parseProxyAddress('tcp:example.com:80'), /Not an IP address "example.com"/);
  t.throws(() => parseProxyAddress('tcp:1.2.3.4:1-100'), /At most 64 ports/);
  t.throws(() => parseProxyAddress('unix:relative.sock'), /absolute path/);
});

t.test('listen/connect pairs', async (t) => {
  const p = (l: string, c: string) => proxyPairs(parseProxyAddress(l), parseProxyAddress(c));
  t.same(p('tcp:127.0.0.1:80', 'tcp:127.0.0.1:8080'), [['tcp:127.0.0.1:80', 'tcp:127.0.0.1:8080']]);
  t.same(p('tcp:0.0.0.0:80-81', 'tcp:127.0.0.1:8080'), [
    ['tcp:0.0.0.0:80', 'tcp:127.0.0.1:8080'],
    ['tcp:0.0.0.0:81', 'tcp:127.0.0.1:8080'],
  ], 'one connect port takes every listen port');
  t.same(p('udp:[::]:53,54', 'udp:[::1]:5353-5354'), [
    ['udp:[::]:53', 'udp:[::1]:5353'],
    ['udp:[::]:54', 'udp:[::1]:5354'],
  ]);
  t.same(p('unix:/run/a.sock', 'tcp:127.0.0.1:22'), [['unix:/run/a.sock', 'tcp:127.0.0.1:22']]);
  t.same(p('tcp::2222', 'unix:@ssh'), [['tcp::2222', 'unix:@ssh']]);
  const problem = (l: string, c: string) => proxyPairProblem(parseProxyAddress(l), parseProxyAddress(c));
  t.equal(problem('tcp:1.1.1.1:1-3', 'tcp:1.1.1.1:1-2'), 'Mismatch between listen port(s) and connect port(s) count');
  t.equal(problem('udp:1.1.1.1:1', 'tcp:1.1.1.1:1'), 'Proxying udp to tcp is not supported');
  t.equal(problem('tcp:1.1.1.1:1', 'udp:1.1.1.1:1'), null, 'a stream may feed a udp target');
  t.equal(problem('unix:/a', 'tcp:1.1.1.1:1'), null);
});

t.test('forkproxy argv for bind=host and bind=instance', async (t) => {
  const ctx = { name: 'web', logDir: '/var/log/incus/c1', config: { type: 'proxy', listen: 'tcp:127.0.0.1:8080', connect: 'tcp:127.0.0.1:80' } };
  const host = proxySpec(ctx, 4242);
  t.same([host.listenPid, host.connectPid], [0, 4242], 'bind=host: listen on the host, connect in the container');
  t.same(forkproxyArgs(host), ['forkproxy', '0', '4242', '/var/log/incus/c1/proxy.web.log', '0', '0', '0644', '0', '0', '--', 'tcp:127.0.0.1:8080', 'tcp:127.0.0.1:80']);
  const inside = proxySpec({ ...ctx, config: { ...ctx.config, bind: 'instance', listen: 'unix:/run/s.sock', uid: '33', gid: '33', mode: '0660', 'security.uid': '65534' } }, 4242);
  t.same(forkproxyArgs(inside), ['forkproxy', '4242', '0', '/var/log/incus/c1/proxy.web.log', '33', '33', '0660', '65534', '0', '--', 'unix:/run/s.sock', 'tcp:127.0.0.1:80']);
  t.throws(() => forkproxyArgs({ ...host, listenPid: 1 }), /one side must be the host/);
  t.throws(() => forkproxyArgs({ ...host, pairs: [] }), /between 1 and 64/);
});

t.test('proxy validation names the device and key', async (t) => {
  const v = (c: Record<string, string>) => () => proxyDevice.validate('p', { type: 'proxy', ...c }, { profile: false, poolExists: () => true });
  const ok = { listen: 'tcp:127.0.0.1:80', connect: 'tcp:127.0.0.1:80' };
  t.doesNotThrow(v(ok));
  t.doesNotThrow(v({ ...ok, bind: 'container' }), 'Incus spells instance as container or guest too');
  t.doesNotThrow(v({ listen: 'unix:/run/x', connect: 'tcp:127.0.0.1:80', uid: '1', gid: '2', mode: '0600' }));
  t.throws(v({ listen: 'tcp:127.0.0.1:80' }), /Invalid device "p": Missing "connect"/);
  t.throws(v({ ...ok, listen: 'tcp:1.2.3.4' }), /"listen"/);
  t.throws(v({ ...ok, uid: '1' }), /"uid".*non-abstract unix/);
  t.throws(v({ listen: 'unix:@x', connect: 'tcp:127.0.0.1:80', mode: '0600' }), /"mode"/);
  t.doesNotThrow(v({ ...ok, nat: 'true' }), 'NAT mode: tcp to tcp, host-bound, one IP version');
  t.throws(v({ ...ok, nat: 'true', bind: 'instance' }), /Only host-bound proxies can use NAT/);
  t.throws(v({ ...ok, nat: 'true', connect: 'udp:127.0.0.1:80' }), /Proxying tcp <-> udp is not supported when using NAT/);
  t.throws(v({ listen: 'tcp:127.0.0.1:80', connect: 'tcp:[::]:80', nat: 'true' }), /Cannot mix IP versions between listen and connect in nat mode/);
  t.throws(v({ ...ok, nat: 'true', proxy_protocol: 'true' }), /The PROXY header can only be sent to tcp servers in non-nat mode/);
  t.throws(v({ ...ok, proxy_protocol: 'true' }), /"proxy_protocol"/);
  t.throws(v({ ...ok, 'security.uid': '-1' }), /"security.uid"/);
  const withForward = { profile: false, poolExists: () => true, forwardListenAddresses: ['192.0.2.2', '2001:db8::2'] };
  const f = (listen: string) => () => proxyDevice.validate('p', { type: 'proxy', listen, connect: 'tcp:127.0.0.1:80' }, withForward);
  t.throws(f('tcp:192.0.2.2:80'), /Listen address "192.0.2.2" conflicts with existing network forward/);
  t.throws(f('tcp:[2001:db8:0::2]:80'), /conflicts with existing network forward/, 'the same address however written');
  t.doesNotThrow(f('tcp:192.0.2.3:80'));
});
