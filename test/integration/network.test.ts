/**
 * Managed bridges end to end, each daemon inside a network + mount
 * namespace the test creates: admin init's incusbr0, DHCP leases and DNS
 * names from the daemon's dnsmasq, addresses in `incus list`, static
 * reservations, NAT rules in `inet incus`, delete refusing a used network
 * and leaving nothing behind, the daemon restart that keeps networks up,
 * and 400s that name the key. The host's own interfaces and ruleset are
 * compared before and after.
 */
import t, { type Test } from 'tap';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Network } from '../../lib/api/network';
import type { InstanceState } from '../../lib/api/instance-state';
import { getNetwork } from '../../lib/client/networks';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { dhcp, installDhcpScript } from './lib/dhcp';
import { rawRequest } from './lib/http';
import { hostLinks, hostRuleset } from './lib/netns';

const hostBefore = { links: hostLinks(), rules: hostRuleset() };
t.teardown(() => {
  // Checked after every daemon of this file is gone.
  const links = hostLinks();
  if (JSON.stringify(links) !== JSON.stringify(hostBefore.links)) throw new Error(`host interfaces changed: ${links.join(' ')}`);
  if (hostRuleset() !== hostBefore.rules) throw new Error('host nftables ruleset changed');
});

async function json<T>(d: TestDaemon, args: string[]): Promise<T> {
  const r = await d.cli([...args, '-f', 'json']);
  if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function ok(t: Test, d: TestDaemon, args: string[]): Promise<string> {
  const r = await d.cli(args);
  t.equal(r.code, 0, `incus ${args.join(' ')} ${r.stderr.trim()}`);
  return r.stdout;
}

/** Whether a process runs (a zombie waiting for its reaper does not count). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** PIDs of the dnsmasq processes running for this daemon's networks. */
function dnsmasqPids(d: TestDaemon, network: string): number[] {
  const out = d.netns!.run(['pgrep', '-f', '--', `--interface=${network} `]).out;
  return out
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(join(d.dir, 'networks'));
      } catch {
        return false;
      }
    });
}

t.test('admin init --auto: incusbr0 and eth0, inside the namespace only', async (t) => {
  const d = await withDaemon(t, { netns: true });
  t.not(d.netns!.inode(), readlinkSync('/proc/self/ns/net'), 'daemon runs in its own network namespace');
  t.equal(readlinkSync(`/proc/${d.pid}/ns/net`), d.netns!.inode(), 'the one the test made');
  const nets = await json<Network[]>(d, ['network', 'list']);
  const br = nets.find((n) => n.name === 'incusbr0');
  t.ok(br, 'incusbr0 listed');
  t.equal(br?.managed, true);
  t.equal(br?.type, 'bridge');
  t.equal(br?.status, 'Created');
  t.match(br?.config['ipv4.address'] ?? '', /^10\.\d+\.\d+\.1\/24$/, 'an auto 10.x.y.1/24 subnet');
  t.match(br?.config['ipv6.address'] ?? '', /^fd42:[0-9a-f:]+::1\/64$/, 'an auto fd42: subnet');
  t.equal(br?.config['ipv4.nat'], 'true');
  t.ok(nets.some((n) => n.name === 'lo' && !n.managed && n.type === 'loopback'), 'host interfaces listed as unmanaged');
  const profile = await d.client.getProfile('default');
  t.same(profile.devices.eth0, { type: 'nic', network: 'incusbr0', name: 'eth0' }, 'eth0 on incusbr0 in the default profile');
  t.equal(d.netns!.run(['ip', 'link', 'show', 'incusbr0']).code, 0, 'bridge exists in the namespace');
  t.notOk(hostLinks().includes('incusbr0'), 'and not on the host');
  t.match(d.netns!.run(['nft', 'list', 'table', 'inet', 'incus']).out, /chain pstrt\.incusbr0[^}]*masquerade/, 'NAT rule in inet incus');
  t.equal(dnsmasqPids(d, 'incusbr0').length, 1, 'one dnsmasq for the bridge');
  const again = await d.cli(['admin', 'init', '--auto']);
  t.equal(again.code, 0, 'admin init --auto again is harmless');
  t.equal((await json<Network[]>(d, ['network', 'list'])).filter((n) => n.managed).length, 1, 'no second bridge');
});

t.test('DHCP, addresses in list, leases, names, static reservation after restart', async (t) => {
  const d = await withDaemon(t, { netns: true });
  await ok(t, d, ['network', 'create', 'br1']);
  const br1 = await getNetwork(d.client, 'br1');
  const incusbr0 = (await getNetwork(d.client, 'incusbr0')).config['ipv4.address'];
  const subnet = br1.config['ipv4.address'];
  t.match(subnet, /^10\.\d+\.\d+\.1\/24$/, `br1 got a free subnet (${subnet})`);
  t.not(subnet.split('.').slice(0, 3).join('.'), incusbr0.split('.').slice(0, 3).join('.'), 'not the one incusbr0 has');
  const prefix = subnet.split('.').slice(0, 3).join('.');

  await ok(t, d, ['launch', 'busybox', 'c1', '--network', 'br1']);
  await ok(t, d, ['create', 'busybox', 'c2', '--network', 'br1']);
  await ok(t, d, ['config', 'device', 'set', 'c2', 'eth0', `ipv4.address=${prefix}.50`]);
  await ok(t, d, ['start', 'c2']);
  for (const c of ['c1', 'c2']) installDhcpScript(d, c);

  const l1 = dhcp(d, 'c1');
  t.match(l1.address, new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.\\d+$`), `c1 leased ${l1.address} in ${l1.ms} ms`);
  t.ok(l1.ms < 10_000, 'within seconds');
  const l2 = dhcp(d, 'c2');
  t.equal(l2.address, `${prefix}.50`, 'c2 got its static address');

  const list = await d.cli(['list', '-c', 'n4', '-f', 'csv']);
  t.match(list.stdout, `c1,${l1.address} (eth0)`, 'incus list shows c1 address');
  t.match(list.stdout, `c2,${prefix}.50 (eth0)`, 'and c2 address');
  const state = (await d.client.getInstanceState('c1')) as InstanceState;
  const eth0 = state.network?.eth0;
  t.ok(eth0, 'state has eth0');
  t.match(eth0?.host_name ?? '', /^veth[0-9a-f]{8}$/, 'with the host-side name');
  t.ok((eth0?.counters.packets_received ?? 0) > 0, 'and counters');
  const inst = await d.client.getInstance('c1');
  t.equal(eth0?.hwaddr, inst.config['volatile.eth0.hwaddr'], 'MAC is the one recorded in volatile.eth0.hwaddr');

  const leases = await d.cli(['network', 'list-leases', 'br1', '-f', 'csv']);
  t.match(leases.stdout, new RegExp(`^c1,${inst.config['volatile.eth0.hwaddr']},${l1.address.replace(/\./g, '\\.')},DYNAMIC$`, 'm'), 'c1 lease listed');
  t.match(leases.stdout, new RegExp(`^c2,[0-9a-f:]+,${prefix.replace(/\./g, '\\.')}\\.50,STATIC$`, 'm'), 'c2 reservation listed');
  t.match(leases.stdout, /^br1\.gw,,/m, 'gateway listed');

  const allocs = await d.cli(['network', 'list-allocations', '-f', 'csv', '-c', 'uaNtn']);
  t.equal(allocs.code, 0, allocs.stderr);
  t.match(allocs.stdout, `/1.0/networks/br1,${subnet},br1,network,YES`, "br1's own subnet, NAT on");
  t.match(allocs.stdout, `/1.0/instances/c1,${l1.address}/32,br1,instance,YES`, "c1's lease as a /32");
  t.match(allocs.stdout, `/1.0/instances/c2,${prefix}.50/32,br1,instance,YES`, "c2's reservation");
  t.notMatch(allocs.stdout, 'br1.gw', 'no gateway row');
  const summary = await d.cli(['network', 'list-allocations', '--summary', '-f', 'csv']);
  t.equal(summary.code, 0, summary.stderr);
  const br1Row = summary.stdout.split('\n').find((l) => l.startsWith(`br1,${prefix}.0/24,`)) ?? '';
  t.ok(br1Row.includes(`${prefix}.50`) && br1Row.includes(l1.address), `summary row for ${prefix}.0/24 holds both addresses (${br1Row})`);
  const custom = await d.cli(['network', 'list-allocations', '--summary', '-c', 'ua']);
  t.equal(custom.code, 1, '--summary with -c refused');
  t.match(custom.stderr, 'The --summary flag cannot be used with custom columns (-c)');

  t.equal(d.attach('c1', ['ping', '-c1', '-W2', `${prefix}.50`]).code, 0, 'c1 reaches c2 by address');
  // IPv4 asked for: once c2's SLAAC address is registered the name also has an AAAA record, which busybox ping prefers.
  const byName = d.attach('c1', ['ping', '-4', '-c1', '-W2', 'c2.incus']);
  t.equal(byName.code, 0, `c1 reaches c2 by name (${byName.out.split('\n')[0]})`);
  t.match(byName.out, `(${prefix}.50)`, 'c2.incus resolves to its address');
  t.equal(d.attach('c2', ['ping', '-c1', '-W2', 'c1.incus']).code, 0, 'c2 reaches c1 by name');

  await ok(t, d, ['restart', 'c2', '--force']);
  installDhcpScript(d, 'c2');
  t.equal(dhcp(d, 'c2').address, `${prefix}.50`, 'static address honoured after restart');
  const mac = (await d.client.getInstance('c2')).config['volatile.eth0.hwaddr'];
  t.equal((await d.client.getInstanceState('c2')).network?.eth0?.hwaddr, mac, 'MAC stable across restart');
});

t.test('NAT rule follows ipv4.nat; used networks stay; delete leaves nothing', async (t) => {
  const d = await withDaemon(t, { netns: true });
  await ok(t, d, ['network', 'create', 'br2', 'ipv6.address=none']);
  const table = (): string => d.netns!.run(['nft', 'list', 'table', 'inet', 'incus']).out;
  t.match(table(), /chain pstrt\.br2 \{[^}]*masquerade/, 'NAT rule while ipv4.nat=true');
  await ok(t, d, ['network', 'set', 'br2', 'ipv4.nat=false']);
  t.notMatch(table(), /pstrt\.br2/, 'gone on ipv4.nat=false');
  t.match(table(), /chain in\.br2/, 'DHCP/DNS access rules stay');
  await ok(t, d, ['network', 'set', 'br2', 'ipv4.nat=true']);
  t.match(table(), /chain pstrt\.br2 \{[^}]*masquerade/, 'back on ipv4.nat=true');
  t.equal(await d.cli(['network', 'get', 'br2', 'ipv4.nat']).then((r) => r.stdout.trim()), 'true');

  await ok(t, d, ['create', 'busybox', 'u1']);
  await ok(t, d, ['network', 'attach', 'br2', 'u1', 'eth1', 'eth1']);
  const used = await rawRequest(d.socket, 'DELETE', '/1.0/networks/br2');
  t.equal(used.status, 400, 'a used network cannot be deleted');
  t.match(String(used.body.error), /in use/);
  t.match((await getNetwork(d.client, 'br2')).used_by ?? [], ['/1.0/instances/u1']);
  await ok(t, d, ['network', 'detach', 'br2', 'u1']);
  t.notOk('eth1' in (await d.client.getInstance('u1')).devices, 'detach removed the device');
  await ok(t, d, ['profile', 'create', 'p1']);
  await ok(t, d, ['network', 'attach-profile', 'br2', 'p1', 'net0', 'eth3']);
  t.same((await d.client.getProfile('p1')).devices.net0, { type: 'nic', network: 'br2', name: 'eth3' }, 'attach-profile');
  await ok(t, d, ['network', 'detach-profile', 'br2', 'p1']);
  t.same((await d.client.getProfile('p1')).devices, {}, 'detach-profile');

  const subnet = (await getNetwork(d.client, 'br2')).config['ipv4.address'];
  const edit = await d.cli(['network', 'edit', 'br2'], `config:\n  ipv4.address: ${subnet}\n  ipv6.address: none\ndescription: edited\n`);
  t.equal(edit.code, 0, `network edit from stdin ${edit.stderr}`);
  const edited = await getNetwork(d.client, 'br2');
  t.equal(edited.description, 'edited', 'edit changed the description');
  t.notOk('ipv4.nat' in edited.config, 'and dropped the key it left out');
  t.notMatch(table(), /pstrt\.br2/, 'so NAT is off again');
  await ok(t, d, ['network', 'set', 'br2', 'ipv4.nat=true']);
  await ok(t, d, ['network', 'unset', 'br2', 'ipv4.nat']);
  t.equal((await d.cli(['network', 'get', 'br2', 'ipv4.nat'])).stdout, '\n', 'unset');
  t.equal((await d.cli(['network', 'get', 'br2', 'description', '-p'])).stdout, 'edited\n', 'get -p');
  t.match((await d.cli(['network', 'info', 'br2'])).stdout, /^Name: br2\n[\s\S]*State: up[\s\S]*inet\t10\./, 'info');

  await ok(t, d, ['network', 'set', 'br2', 'bridge.mtu=1400', 'bridge.hwaddr=10:66:6a:12:34:56', 'raw.dnsmasq=address=/extra.test/10.99.99.99']);
  const link = d.netns!.run(['ip', '-o', 'link', 'show', 'br2']).out;
  t.match(link, / mtu 1400 /, 'bridge.mtu applied');
  t.match(link, /link\/ether 10:66:6a:12:34:56 /, 'bridge.hwaddr applied');
  const gw = subnet.split('/')[0]!;
  t.match(d.netns!.run(['busybox', 'nslookup', 'extra.test', gw]).out, /10\.99\.99\.99/, 'raw.dnsmasq reaches dnsmasq');
  t.match(d.netns!.run(['busybox', 'nslookup', '_gateway.incus', gw]).out, new RegExp(gw.replace(/\./g, '\\.')), 'the gateway name resolves');

  await ok(t, d, ['network', 'rename', 'br2', 'br3']);
  t.not(d.netns!.run(['ip', 'link', 'show', 'br2']).code, 0, 'renamed: old bridge gone');
  t.equal(d.netns!.run(['ip', 'link', 'show', 'br3']).code, 0, 'renamed: new bridge there');
  t.same(dnsmasqPids(d, 'br2'), [], 'no dnsmasq for the old name');

  const pids = dnsmasqPids(d, 'br3');
  t.equal(pids.length, 1, 'br3 has its dnsmasq');
  await ok(t, d, ['network', 'delete', 'br3']);
  t.not(d.netns!.run(['ip', 'link', 'show', 'br3']).code, 0, 'no bridge left');
  t.same(dnsmasqPids(d, 'br3'), [], 'no dnsmasq left');
  t.notOk(alive(pids[0]), 'its process is gone');
  t.notMatch(d.netns!.run(['nft', 'list', 'ruleset']).out, /br[23]/, 'no rule left');
  t.notOk(existsSync(join(d.dir, 'networks', 'br3')) || existsSync(join(d.dir, 'networks', 'br2')), 'no files left');
});

t.test('daemon restart leaves networks up and adopts dnsmasq', async (t) => {
  const d = await withDaemon(t, { netns: true });
  const pidFile = join(d.dir, 'networks', 'incusbr0', 'dnsmasq.pid');
  const before = Number(readFileSync(pidFile, 'utf8'));
  await d.signal('SIGTERM');
  t.ok(alive(before), 'dnsmasq keeps running without the daemon');
  t.equal(d.netns!.run(['ip', 'link', 'show', 'incusbr0']).code, 0, 'bridge stays');
  await d.start();
  t.equal(Number(readFileSync(pidFile, 'utf8')), before, 'restarted daemon adopts the same dnsmasq');
  t.same(dnsmasqPids(d, 'incusbr0'), [before], 'and starts no second one');
  await ok(t, d, ['network', 'set', 'incusbr0', 'ipv4.dhcp.expiry=2h']);
  const after = Number(readFileSync(pidFile, 'utf8'));
  t.not(after, before, 'a config change that alters dnsmasq replaces it');
  t.notOk(alive(before), 'the old one is gone');
  t.match(readFileSync(`/proc/${after}/cmdline`, 'utf8'), /,2h/, 'new lease time');

  process.kill(after, 'SIGKILL');
  let restarted = 0;
  for (let i = 0; i < 50 && !restarted; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const p = Number(readFileSync(pidFile, 'utf8'));
    if (p !== after && alive(p)) restarted = p;
  }
  t.ok(restarted, 'a dnsmasq that dies is started again by the daemon');
});

t.test('unset addresses stay unset; auto picks a subnet on update', async (t) => {
  const d = await withDaemon(t, { netns: true, init: false });
  await ok(t, d, ['network', 'create', 'br2']);
  await ok(t, d, ['network', 'unset', 'br2', 'ipv4.address']);
  t.equal((await getNetwork(d.client, 'br2')).config['ipv4.address'], undefined, 'no subnet picked on unset');
  t.equal(d.netns!.run(['sh', '-c', 'ip -4 addr show br2 | grep -c inet || true']).out.trim(), '0', 'and none on the bridge');
  await ok(t, d, ['network', 'set', 'br2', 'ipv4.address', 'auto']);
  t.match((await getNetwork(d.client, 'br2')).config['ipv4.address'], /^10\.\d+\.\d+\.1\/24$/, 'auto gets a subnet');
  await ok(t, d, ['network', 'delete', 'br2']);
});

t.test('invalid input is refused with the key named', async (t) => {
  const d = await withDaemon(t, { netns: true });
  const used = (await getNetwork(d.client, 'incusbr0')).config['ipv4.address'];
  const cases: [string, Record<string, string>, RegExp][] = [
    ['bad1', { 'ipv4.address': '10.1.2.300/24' }, /ipv4\.address/],
    ['bad2', { 'ipv4.address': used.replace(/\.1\//, '.7/') }, /ipv4\.address.*overlaps with network "incusbr0"/],
    ['bad3', { 'ipv4.address': '10.9.9.0/24' }, /ipv4\.address.*network address/],
    ['bad4', { 'ipv6.address': 'fd00::zz/64' }, /ipv6\.address/],
    ['bad5', { 'bridge.mtu': '20' }, /bridge\.mtu/],
    ['bad6', { 'no.such.key': '1' }, /no\.such\.key/],
    ['bad7', { 'ipv4.dhcp.ranges': '10.8.8.10-10.8.8.5' }, /ipv4\.dhcp\.ranges/],
  ];
  for (const [name, config, why] of cases) {
    const r = await rawRequest(d.socket, 'POST', '/1.0/networks', JSON.stringify({ name, config }));
    t.equal(r.status, 400, `${JSON.stringify(config)} refused`);
    t.match(String(r.body.error), why, String(r.body.error));
  }
  const names = (await json<Network[]>(d, ['network', 'list'])).map((n) => n.name);
  t.notOk(names.some((n) => n.startsWith('bad')), 'nothing was created');
  t.notMatch(d.netns!.run(['ip', 'link']).out, /bad\d/, 'no bridge left behind');

  const dup = await rawRequest(d.socket, 'POST', '/1.0/networks', JSON.stringify({ name: 'incusbr0' }));
  t.equal(dup.status, 409, 'an existing name is a conflict');

  await ok(t, d, ['create', 'busybox', 'v1']);
  const nic = async (dev: Record<string, string>) =>
    rawRequest(d.socket, 'PATCH', '/1.0/instances/v1', JSON.stringify({ devices: { x: { type: 'nic', ...dev } } }));
  const badParent = await nic({ nictype: 'macvlan', parent: 'nosuchif0' });
  t.equal(badParent.status, 400, 'unknown parent refused');
  t.match(String(badParent.body.error), /"parent".*nosuchif0/);
  const badNet = await nic({ network: 'nosuchnet' });
  t.equal(badNet.status, 400, 'unknown network refused');
  t.match(String(badNet.body.error), /Error loading network config for "nosuchnet": Network not found/);
  const outside = await nic({ network: 'incusbr0', 'ipv4.address': '192.168.250.9' });
  t.equal(outside.status, 400, 'static address outside the subnet refused');
  t.match(String(outside.body.error), /Device IP address "192\.168\.250\.9" not within network "incusbr0" subnet/);
  const badMac = await nic({ network: 'incusbr0', hwaddr: 'zz:11' });
  t.equal(badMac.status, 400);
  t.match(String(badMac.body.error), /hwaddr/);
  const inst = await d.client.getInstance('v1');
  t.notOk('x' in inst.devices, 'no device was added');
});
