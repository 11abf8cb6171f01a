/**
 * VM NICs beyond the managed bridge, in one booted guest: a macvlan NIC
 * (a macvtap QEMU inherits by fd) on a veth whose other end lies in a
 * second network namespace serving DHCP with dnsmasq, and a routed NIC (a
 * tap with host routes). incusd runs in a namespace the test makes; no
 * host interface is touched. Checks: the guest's DHCP lease over the
 * macvtap and a ping from the outside, the macvtap's MAC, the routed tap
 * with its route and gateway address, a bad parent refused naming the
 * device, a failed start leaving nothing, and cleanup at stop, also after
 * kill -9 of incusd.
 */
import t from 'tap';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDaemon, type TestDaemon } from './lib/daemon';
import { NetNamespace } from './lib/netns';
import { buildTestVm, ok, qemuPids, waitConsole, waitGone } from './lib/vm';

/** The veth end the macvlan sits on (daemon side) and its peer (outside side). */
const PARENT = 'mvparent0';
const OUTSIDE = 'mvoutside0';
/** TEST-NET-2, never routed off the machine. */
const OUTSIDE_IP = '198.51.100.1';
const ROUTED_IP = '203.0.113.10';

/** Links of a type in the daemon's namespace: name and MAC. */
function links(d: TestDaemon, type: string): { name: string; mac: string }[] {
  const out = d.netns!.run(['ip', '-o', 'link', 'show', 'type', type]).out;
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ name: l.split(':')[1]!.trim().split('@')[0]!, mac: /link\/ether ([0-9a-f:]+)/.exec(l)?.[1] ?? '' }));
}

/** The macvtap character devices process `pid` holds open (/dev/tapN, or a private node since removed). */
function tapFds(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const fd of fds) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (/^\/dev\/tap\d+$|\.tap( \(deleted\))?$/.test(target)) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

function mustRun(ns: NetNamespace, cmd: string[]): string {
  const r = ns.run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.err}`);
  return r.out;
}

t.test('VM macvlan (macvtap) and routed NICs', async (t) => {
  const d = await withDaemon(t, { netns: true });
  const outside = await NetNamespace.create();
  const work = mkdtempSync(join(tmpdir(), 'vm-nics-'));
  let dnsmasq: ChildProcess | null = null;
  t.teardown(async () => {
    for (const pid of qemuPids(d)) process.kill(pid, 'SIGKILL');
    if (dnsmasq && dnsmasq.exitCode === null && dnsmasq.signalCode === null) {
      const gone = new Promise((r) => dnsmasq!.once('exit', r));
      dnsmasq.kill('SIGTERM');
      await gone;
    }
    await outside.close();
    rmSync(work, { recursive: true, force: true });
  });

  // A veth: one end the macvlan parent, the other in the outside namespace with an address and DHCP.
  mustRun(d.netns!, ['ip', 'link', 'add', PARENT, 'type', 'veth', 'peer', 'name', OUTSIDE]);
  mustRun(d.netns!, ['ip', 'link', 'set', PARENT, 'up']);
  mustRun(d.netns!, ['ip', 'link', 'set', OUTSIDE, 'netns', String(outside.pid)]);
  mustRun(outside, ['ip', 'addr', 'add', `${OUTSIDE_IP}/24`, 'dev', OUTSIDE]);
  mustRun(outside, ['ip', 'link', 'set', OUTSIDE, 'up']);
  const [bin, ...args] = [
    ...outside.prefix(),
    'dnsmasq',
    '--no-daemon',
    '--conf-file=/dev/null',
    `--pid-file=${join(work, 'dnsmasq.pid')}`,
    `--dhcp-leasefile=${join(work, 'leases')}`,
    `--interface=${OUTSIDE}`,
    '--bind-interfaces',
    '--except-interface=lo',
    '--port=0',
    '--no-resolv',
    '--no-hosts',
    '--dhcp-range=198.51.100.50,198.51.100.99,1h',
  ];
  dnsmasq = spawn(bin!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let dnsmasqErr = '';
  dnsmasq.stderr!.on('data', (b: Buffer) => (dnsmasqErr += b.toString()));

  const b = buildTestVm(d);
  t.equal(b.status, 0, `image builder: ${b.stderr.slice(-500)}`);

  await ok(t, d, ['init', 'testvm', 'v1', '--vm', '--no-profiles', '-s', 'default', '-c', 'security.secureboot=false', '-c', 'limits.memory=256MiB']);
  await ok(t, d, ['config', 'device', 'add', 'v1', 'eth0', 'nic', 'nictype=macvlan', `parent=${PARENT}`, 'name=eth0']);
  await ok(t, d, ['config', 'device', 'add', 'v1', 'eth1', 'nic', 'nictype=routed', `ipv4.address=${ROUTED_IP}`, 'name=eth1']);

  // A parent that does not exist: a 400 naming the device.
  const bad = await d.cli(['config', 'device', 'add', 'v1', 'bad', 'nic', 'nictype=macvlan', 'parent=nosuch0']);
  t.not(bad.code, 0, 'a missing parent is refused');
  t.match(bad.stderr, /Device "bad".*parent.*nosuch0/i, `the error names the device and the parent: ${bad.stderr.trim()}`);

  // A parent that exists but cannot carry a macvtap (loopback): the start fails naming the device, and leaves nothing.
  await ok(t, d, ['config', 'device', 'add', 'v1', 'lo0', 'nic', 'nictype=macvlan', 'parent=lo']);
  const failed = await d.cli(['start', 'v1']);
  t.not(failed.code, 0, 'start with a macvtap on lo fails');
  t.match(failed.stderr, /Device "lo0".*macvtap/, `the error names the device: ${failed.stderr.trim()}`);
  t.same(links(d, 'macvtap'), [], 'no macvtap left after the failed start');
  t.same(links(d, 'tun'), [], 'no tap left after the failed start');
  t.same(qemuPids(d), [], 'no QEMU after the failed start');
  await ok(t, d, ['config', 'device', 'remove', 'v1', 'lo0']);

  const hwaddr = (await ok(t, d, ['config', 'get', 'v1', 'volatile.eth0.hwaddr'])).trim();
  t.match(hwaddr, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, `the NIC's recorded MAC: ${hwaddr}`);

  await ok(t, d, ['start', 'v1']);
  const taps = links(d, 'macvtap');
  t.equal(taps.length, 1, `one macvtap while running: ${JSON.stringify(taps)}`);
  t.match(taps[0]?.name, /^mac[0-9a-f]{8}$/, 'named like Incus');
  t.equal(taps[0]?.mac, hwaddr, "the macvtap has the NIC's MAC");
  t.match(d.netns!.run(['ip', '-o', 'link', 'show', 'dev', taps[0]?.name ?? '-']).out, new RegExp(`@${PARENT}:`), 'on the parent');
  const [qemu] = qemuPids(d);
  t.ok(tapFds(qemu ?? -1).length > 0, `QEMU holds the macvtap's device: ${JSON.stringify(tapFds(qemu ?? -1))}`);
  t.same(tapFds(d.pid), [], "incusd closed its copy after QEMU's start");

  const lease = await waitConsole(d, 'v1', /INCUS-TESTVM-LEASE iface=eth0 ip=(\d+\.\d+\.\d+\.\d+)/, 150_000);
  t.ok(lease, `the guest got a DHCP lease over the macvtap${lease ? '' : `; dnsmasq: ${dnsmasqErr.slice(-500)}`}`);
  // TEST-NET-2 on purpose: with no lease there is nothing to ping (0.0.0.0 would answer locally).
  const guestIp = lease?.[1] ?? '198.51.100.254';
  t.match(guestIp, /^198\.51\.100\.(5\d|[6-9]\d)$/, `from the outside namespace's dnsmasq range: ${guestIp}`);
  let ping = outside.run(['busybox', 'ping', '-c', '1', '-W', '3', guestIp]);
  for (let i = 0; i < 10 && ping.code !== 0; i++) ping = outside.run(['busybox', 'ping', '-c', '1', '-W', '3', guestIp]);
  t.equal(ping.code, 0, `the VM answers a ping from the outside namespace: ${ping.out.trim()}${ping.err.trim()}`);

  // The routed NIC: a tap on no bridge, routed to, with the guest's gateway on it.
  const routedTaps = links(d, 'tun');
  t.equal(routedTaps.length, 1, `one tap for the routed NIC: ${JSON.stringify(routedTaps)}`);
  const rtap = routedTaps[0]?.name ?? '-';
  t.match(d.netns!.run(['ip', '-4', 'route', 'show', `${ROUTED_IP}/32`]).out, new RegExp(`dev ${rtap}`), 'a host route to the routed address via the tap');
  t.match(d.netns!.run(['ip', '-4', 'addr', 'show', 'dev', rtap]).out, /169\.254\.0\.1\/32/, 'the gateway address on the tap');
  t.notMatch(d.netns!.run(['ip', '-o', 'link', 'show', 'dev', rtap]).out, /master/, 'on no bridge');

  // kill -9 of incusd: the adopted VM still removes its macvtap and tap at stop.
  await d.signal('SIGKILL');
  await d.start();
  t.match(await ok(t, d, ['list', '-c', 'ns', '-f', 'csv']), /^v1,RUNNING$/m, 'still RUNNING after the restart');
  await ok(t, d, ['stop', 'v1', '--force']);
  t.same(await waitGone(d, 'qemu-system'), [], 'no QEMU after stop');
  t.same(links(d, 'macvtap'), [], 'the macvtap is gone after stop');
  t.same(links(d, 'tun'), [], 'the routed tap is gone after stop');
  t.equal(d.netns!.run(['ip', '-4', 'route', 'show', `${ROUTED_IP}/32`]).out.trim(), '', 'the host route is gone');

  await ok(t, d, ['delete', 'v1']);
  t.same(links(d, 'macvtap'), [], 'nothing after delete');
});
