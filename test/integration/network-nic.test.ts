/**
 * NIC devices on real containers, in a network namespace the test makes:
 * hot-plug and unplug on a running container, p2p and macvlan NICs with
 * their name and MTU (at start and hot-plugged), routed NICs, bandwidth
 * limits with tc on the host side, the state's host_name, and the
 * attached / connected keys.
 */
import t, { type Test } from 'tap';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { hostLinks } from './lib/netns';

const hostBefore = hostLinks();
t.teardown(() => {
  const links = hostLinks();
  if (JSON.stringify(links) !== JSON.stringify(hostBefore)) throw new Error(`host interfaces changed: ${links.join(' ')}`);
});

async function ok(t: Test, d: TestDaemon, args: string[]): Promise<void> {
  const r = await d.cli(args);
  t.equal(r.code, 0, `incus ${args.join(' ')} ${r.stderr.trim()}`);
}

/** `ip -o link show dev X` inside a container: null when absent. */
function linkIn(d: TestDaemon, c: string, dev: string): string | null {
  const r = d.attach(c, ['ip', '-o', 'link', 'show', 'dev', dev]);
  return r.code === 0 ? r.out : null;
}

const mtuOf = (line: string | null): number => Number(/ mtu (\d+)/.exec(line ?? '')?.[1] ?? 0);

t.test('hot-plug and unplug on a running container', async (t) => {
  const d = await withDaemon(t, { netns: true });
  await ok(t, d, ['launch', 'busybox', 'h1']);
  t.ok(linkIn(d, 'h1', 'eth0'), 'eth0 from the default profile');

  // A second NIC on incusbr0 would give the instance's DNS name twice there (refused, as Incus): a network of its own.
  await ok(t, d, ['network', 'create', 'incusbr9', 'ipv4.address=10.229.0.1/24', 'ipv6.address=none']);
  await ok(t, d, ['config', 'device', 'add', 'h1', 'eth1', 'nic', 'network=incusbr9', 'name=eth1']);
  const eth1 = linkIn(d, 'h1', 'eth1');
  t.ok(eth1, 'eth1 appears in the running container');
  t.match(eth1 ?? '', /state UP|,UP/, 'and is up');
  const st = await d.client.getInstanceState('h1');
  const host = st.network?.eth1?.host_name ?? '';
  t.match(host, /^veth[0-9a-f]{8}$/, 'state names its host side');
  t.match(d.netns!.run(['ip', '-o', 'link', 'show', 'master', 'incusbr9']).out, host, 'host side joined incusbr9');
  const inst = await d.client.getInstance('h1');
  t.equal(st.network?.eth1?.hwaddr, inst.config['volatile.eth1.hwaddr'], 'MAC recorded in volatile.eth1.hwaddr');

  await ok(t, d, ['config', 'device', 'remove', 'h1', 'eth1']);
  t.equal(linkIn(d, 'h1', 'eth1'), null, 'eth1 gone from the container');
  t.not(d.netns!.run(['ip', 'link', 'show', host]).code, 0, 'host side gone');
  await ok(t, d, ['network', 'delete', 'incusbr9']);

  d.netns!.run(['ip', 'link', 'add', 'brx', 'type', 'bridge']);
  d.netns!.run(['ip', 'link', 'set', 'brx', 'up']);
  await ok(t, d, ['config', 'device', 'add', 'h1', 'ub', 'nic', 'nictype=bridged', 'parent=brx', 'name=ub0', 'host_name=hostub0']);
  t.ok(linkIn(d, 'h1', 'ub0'), 'a bridged NIC on an unmanaged bridge');
  t.match(d.netns!.run(['ip', '-o', 'link', 'show', 'master', 'brx']).out, /hostub0/, 'with its host_name, on that bridge');
  await ok(t, d, ['config', 'device', 'remove', 'h1', 'ub']);
  t.not(d.netns!.run(['ip', 'link', 'show', 'hostub0']).code, 0, 'and gone again');

  await ok(t, d, ['config', 'device', 'add', 'h1', 'p2p0', 'nic', 'nictype=p2p', 'name=p2p0', 'mtu=1400']);
  t.equal(mtuOf(linkIn(d, 'h1', 'p2p0')), 1400, 'hot-plugged p2p NIC has its name and MTU');
  const p2pHost = (await d.client.getInstanceState('h1')).network?.p2p0?.host_name ?? '';
  t.equal(mtuOf(d.netns!.run(['ip', '-o', 'link', 'show', p2pHost]).out), 1400, 'host end too');

  t.equal(d.netns!.run(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']).code, 0, 'an uplink for macvlan');
  d.netns!.run(['ip', 'link', 'set', 'up0', 'up']);
  await ok(t, d, ['config', 'device', 'add', 'h1', 'mv0', 'nic', 'nictype=macvlan', 'parent=up0', 'name=mv0', 'mtu=1300']);
  const mv = linkIn(d, 'h1', 'mv0');
  t.equal(mtuOf(mv), 1300, 'hot-plugged macvlan NIC has its name and MTU');
  t.match(mv ?? '', /mv0@/, 'a macvlan of the uplink');
  await ok(t, d, ['config', 'device', 'remove', 'h1', 'mv0']);
  t.equal(linkIn(d, 'h1', 'mv0'), null, 'macvlan unplugged');
  await ok(t, d, ['config', 'device', 'remove', 'h1', 'p2p0']);
  t.equal(linkIn(d, 'h1', 'p2p0'), null, 'p2p unplugged');
  t.not(d.netns!.run(['ip', 'link', 'show', p2pHost]).code, 0, 'p2p host end gone');
});

t.test('p2p, macvlan and routed NICs at start; limits with tc', async (t) => {
  const d = await withDaemon(t, { netns: true });
  d.netns!.run(['ip', 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  d.netns!.run(['ip', 'link', 'set', 'up0', 'up']);
  d.netns!.run(['sysctl', '-w', 'net.ipv4.conf.up0.forwarding=1']);
  await ok(t, d, ['create', 'busybox', 's1']);
  await ok(t, d, ['config', 'device', 'add', 's1', 'pp', 'nic', 'nictype=p2p', 'name=pp0', 'mtu=1450', 'limits.ingress=10Mbit', 'limits.egress=5Mbit']);
  await ok(t, d, ['config', 'device', 'add', 's1', 'mv', 'nic', 'nictype=macvlan', 'parent=up0', 'name=mv0', 'mtu=1280']);
  await ok(t, d, ['config', 'device', 'add', 's1', 'rt', 'nic', 'nictype=routed', 'parent=up0', 'name=rt0', 'ipv4.address=10.222.0.10']);
  await ok(t, d, ['start', 's1']);
  t.equal(mtuOf(linkIn(d, 's1', 'pp0')), 1450, 'p2p: name and MTU');
  t.equal(mtuOf(linkIn(d, 's1', 'mv0')), 1280, 'macvlan: name and MTU');
  t.ok(linkIn(d, 's1', 'eth0'), 'eth0 from the profile too');

  const addr = d.attach('s1', ['ip', '-4', 'addr', 'show', 'dev', 'rt0']).out;
  t.match(addr, /inet 10\.222\.0\.10\/32/, 'routed: the address inside');
  t.match(d.attach('s1', ['ip', 'route']).out, /default via 169\.254\.0\.1 dev rt0/, 'routed: default via the host end');
  const st = await d.client.getInstanceState('s1');
  const rtHost = st.network?.rt0?.host_name ?? '';
  t.match(d.netns!.run(['ip', 'route', 'show', '10.222.0.10']).out, rtHost, 'routed: host route to the instance');
  t.match(d.netns!.run(['ip', 'neigh', 'show', 'proxy', 'dev', 'up0']).out, /10\.222\.0\.10/, 'routed: proxy ARP on the parent');
  t.equal(d.attach('s1', ['ping', '-c1', '-W2', '169.254.0.1']).code, 0, 'routed: the instance reaches its gateway');
  t.notOk(st.network?.mv0?.host_name, 'macvlan has no host side');

  const ppHost = st.network?.pp0?.host_name ?? '';
  t.match(d.netns!.run(['tc', 'class', 'show', 'dev', ppHost]).out, /rate 10Mbit/, 'limits.ingress shapes the host side');
  const egress = d.netns!.run(['tc', 'filter', 'show', 'dev', ppHost, 'ingress']).out;
  t.match(egress, /police|mirred/, 'limits.egress polices (or redirects) what the instance sends');

  await ok(t, d, ['stop', 's1', '--force']);
  t.notMatch(d.netns!.run(['ip', 'neigh', 'show', 'proxy']).out, /10\.222\.0\.10/, 'routed: proxy entry removed at stop');
  t.not(d.netns!.run(['ip', 'link', 'show', ppHost]).code, 0, 'p2p host end gone at stop');
  t.notMatch(d.netns!.run(['ip', 'link']).out, /ifb[0-9a-f]{8}/, 'no ifb left');
  await ok(t, d, ['start', 's1']);
  t.equal(mtuOf(linkIn(d, 's1', 'pp0')), 1450, 'starts again');
  t.equal((await d.client.getInstanceState('s1')).network?.pp0?.hwaddr, (await d.client.getInstance('s1')).config['volatile.pp.hwaddr'], 'same MAC after restart');
});

t.test('attached and connected', async (t) => {
  const d = await withDaemon(t, { netns: true });
  await ok(t, d, ['launch', 'busybox', 'c1']);
  const operstate = (): string | null => {
    const r = d.attach('c1', ['cat', '/sys/class/net/pc0/operstate']);
    return r.code === 0 ? r.out.trim() : null;
  };
  await ok(t, d, ['config', 'device', 'add', 'c1', 'pc', 'nic', 'nictype=p2p', 'name=pc0']);
  d.attach('c1', ['ip', 'link', 'set', 'pc0', 'up']);
  t.equal(operstate(), 'up', 'plugged and connected');
  await ok(t, d, ['config', 'device', 'set', 'c1', 'pc', 'connected=false']);
  d.attach('c1', ['ip', 'link', 'set', 'pc0', 'up']);
  t.equal(operstate(), 'down', 'connected=false: the host side is down');
  await ok(t, d, ['config', 'device', 'set', 'c1', 'pc', 'attached=false']);
  t.equal(operstate(), null, 'attached=false: unplugged');
  await ok(t, d, ['config', 'device', 'set', 'c1', 'pc', 'connected=true']);
  t.equal(operstate(), null, 'still unplugged');
  await ok(t, d, ['config', 'device', 'set', 'c1', 'pc', 'attached=true']);
  d.attach('c1', ['ip', 'link', 'set', 'pc0', 'up']);
  t.equal(operstate(), 'up', 'plugged again');
  await ok(t, d, ['config', 'device', 'set', 'c1', 'pc', 'connected=false']);
  await ok(t, d, ['restart', 'c1', '--force']);
  d.attach('c1', ['ip', 'link', 'set', 'pc0', 'up']);
  t.equal(operstate(), 'down', 'connected=false holds across a restart');
  const bad = await d.cli(['config', 'device', 'set', 'c1', 'pc', 'connected=maybe']);
  t.not(bad.code, 0, 'connected must be a bool');
});
