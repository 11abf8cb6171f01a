/**
 * The clustering testbed (scripts/cluster-testbed.sh through
 * lib/cluster-testbed.ts): three members in namespaces of their own answer on
 * their own sockets, listen on their testbed addresses, and one reaches
 * another over HTTPS with a trust token from inside its namespace; the host's
 * own network namespace gains no interface, route or nft rule, and `down`
 * leaves no daemon, namespace, mount or directory, also after a failed `up`.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterTestbed, runTestbedScript } from './lib/cluster-testbed';
import { runCli } from './lib/daemon';
import { hostLinks, hostRuleset } from './lib/netns';

/** What the host's own network namespace shows: links, routes of every table, nft rules. */
function hostNetwork(): { links: string[]; routes: string; routes6: string; nft: string } {
  const ip = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' }).stdout;
  return { links: hostLinks(), routes: ip(['route', 'show', 'table', 'all']), routes6: ip(['-6', 'route', 'show', 'table', 'all']), nft: hostRuleset() };
}

/** Mount points of the host's mount namespace under dir (namespace files included). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)));
}

/** Whether pid runs (a zombie waiting for init to reap it has ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function ok(t: Test, r: { code: number; stderr: string }, what: string): void {
  t.equal(r.code, 0, `${what}${r.code === 0 ? '' : `: ${r.stderr}`}`);
}

/** Everything of the testbed is gone: daemons, pinned namespaces, mounts, the directory. */
function assertGone(t: Test, dir: string, pids: number[]): void {
  t.same(
    pids.filter((p) => alive(p)),
    [],
    'no daemon left',
  );
  t.same(mountsUnder(dir), [], 'no mount left (namespace files, their private mount)');
  t.notOk(existsSync(dir), 'testbed directory removed');
}

t.test('three members: own sockets and namespaces, HTTPS between them, nothing on the host', async (t) => {
  const before = hostNetwork();
  const hostNet = readlinkSync('/proc/self/ns/net');
  const tb = await ClusterTestbed.start(t, 3);
  t.equal(tb.members.length, 3);
  t.same(
    tb.members.map((m) => m.address),
    ['10.203.0.11', '10.203.0.12', '10.203.0.13'],
  );

  const nets = new Set<string>();
  for (const m of tb.members) {
    // incus info over the member's own unix socket, from the host's side.
    const info = await runCli({ INCUS_DIR: m.dir, INCUS_SOCKET: '', INCUS_REMOTE: '', INCUS_CONF: join(m.dir, 'host-conf') }, ['info']);
    ok(t, info, `${m.name}: incus info on ${m.socket}`);
    t.match(info.stdout, 'auth: trusted');
    const net = readlinkSync(`/proc/${m.pid}/ns/net`);
    t.not(net, hostNet, `${m.name}'s incusd is not in the host's netns`);
    nets.add(net);
    t.equal((await m.client.getServer()).environment?.server_pid, m.pid, `${m.name}: the socket is served by the PID in testbed.json`);
  }
  t.equal(nets.size, 3, 'one network namespace per member');

  // Each member listens on its testbed address; the members see each other on the bridge.
  for (const m of tb.members) ok(t, await tb.cli(m.index, ['config', 'set', `core.https_address=${m.address}:8443`]), `${m.name}: core.https_address`);
  const ping = await tb.exec(1, ['busybox', 'ping', '-c', '1', '-W', '5', tb.member(3).address]);
  ok(t, ping, 'm1 pings m3 over the bridge');
  const ls = await tb.exec(2, ['ip', '-o', '-4', 'addr', 'show', 'eth0']);
  t.match(ls.stdout, '10.203.0.12/24', 'exec runs in m2 (its eth0 address)');

  // m1 adds m2 as a remote with a trust token and lists it over HTTPS.
  const add = await tb.cli(2, ['config', 'trust', 'add', 'm1']);
  ok(t, add, 'm2: config trust add');
  const token = add.stdout.trim().split('\n').pop()!;
  ok(t, await tb.cli(1, ['remote', 'add', 'm2', token]), 'm1: remote add m2 <token>');
  const list = await tb.cli(1, ['list', 'm2:']);
  ok(t, list, 'm1: incus list m2:');
  t.match(list.stdout, 'NAME');
  const q = await tb.cli(1, ['query', 'm2:/1.0']);
  ok(t, q, 'm1: query m2:/1.0');
  const srv = JSON.parse(q.stdout) as { auth: string; auth_user_method: string; environment: { addresses: string[]; server_pid: number } };
  t.equal(srv.auth, 'trusted');
  t.equal(srv.auth_user_method, 'tls', 'over TLS, as the trusted client');
  t.same(srv.environment.addresses, ['10.203.0.12:8443']);
  t.equal(srv.environment.server_pid, tb.member(2).pid, "m2's daemon answered");

  t.match(await tb.status(), /m3 +10\.203\.0\.13 +pid \d+ +running/);
  t.same(hostNetwork(), before, 'the host netns has no new interface, route or nft rule while the testbed runs');

  const pids = tb.members.map((m) => m.pid);
  await tb.stop();
  assertGone(t, tb.dir, pids);
  t.same(hostNetwork(), before, 'nor after it');
  const again = await runTestbedScript(['down', '--dir', tb.dir]);
  ok(t, again, 'down is idempotent');
});

t.test('a failed up cleans up after itself, and down after it is a no-op', async (t) => {
  // Daemons that exit at once (NODE=/bin/false): the bridge and member namespaces exist when up fails.
  const dir = mkdtempSync(join(tmpdir(), 'incus-testbed-'));
  t.teardown(async () => {
    await runTestbedScript(['down', '--dir', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const up = await runTestbedScript(['up', '2', '--dir', dir, '--prefix', `itbfail${process.pid}`], { env: { NODE: '/bin/false' } });
  t.not(up.code, 0, 'up fails');
  t.match(up.stderr, 'up failed, cleaning up');
  assertGone(t, dir, []);
  const down = await runTestbedScript(['down', '--dir', dir]);
  ok(t, down, 'down after the failed up');
  t.match(down.stdout, 'no testbed');
});
