/**
 * Resource limits applied at start and live through profiles, checked on
 * the real cgroup files and by workloads inside real containers. This host
 * runs cgroup v1; the v2 mapping is covered by unit tests over fixtures.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { withDaemon } from './lib/daemon';
import { lxcAttach, payloadCgroupFile } from './lib/attach';
import { rawRequest } from './lib/http';

const v1 = existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes');

t.test('memory limit from a profile applies live and OOM-kills', { skip: v1 ? false : 'host has no cgroup v1 memory controller' }, async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'm1'])).code, 0);
  const pid = (await d.client.getInstanceState('m1')).pid;
  t.equal(payloadCgroupFile('memory', pid, 'memory.limit_in_bytes'), '9223372036854771712', 'unlimited at first');
  const mk = await rawRequest(d.socket, 'POST', '/1.0/profiles', JSON.stringify({ name: 'small', config: { 'limits.memory': '64MiB', 'limits.memory.swap': 'false' } }));
  t.equal(mk.status, 200, JSON.stringify(mk.body));
  const inst = await d.client.getInstance('m1');
  const put = await rawRequest(d.socket, 'PATCH', '/1.0/instances/m1', JSON.stringify({ profiles: [...inst.profiles, 'small'] }));
  t.equal(put.status, 200, JSON.stringify(put.body));
  t.equal(payloadCgroupFile('memory', pid, 'memory.limit_in_bytes'), String(64 * 1024 * 1024), 'limit applied live');

  const oom = lxcAttach(d.dir, 'm1', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1']);
  t.equal(oom.code, 137, `allocation past the limit is killed (${oom.err.trim()})`);
  t.equal(lxcAttach(d.dir, 'm1', ['true']).code, 0, 'container healthy afterwards');

  const change = await rawRequest(d.socket, 'PATCH', '/1.0/profiles/small', JSON.stringify({ config: { 'limits.memory': '96MiB' } }));
  t.equal(change.status, 200);
  t.equal(payloadCgroupFile('memory', pid, 'memory.limit_in_bytes'), String(96 * 1024 * 1024), 'a profile change reaches the running instance');

  const inUse = await rawRequest(d.socket, 'DELETE', '/1.0/profiles/small');
  t.equal(inUse.status, 400, 'a profile in use cannot be deleted');
  t.match(String(inUse.body.error), /in use/);
  const st = await d.client.getInstanceState('m1');
  t.ok(st.memory.usage > 0, 'memory usage reported');
  t.equal((await d.cli(['delete', '-f', 'm1'])).code, 0);
});

t.test('CPU allowance, processes, kernel limits at start', { skip: v1 ? false : 'host has no cgroup v1 controllers' }, async (t) => {
  const d = await withDaemon(t);
  const l = await d.cli(['launch', 'busybox', 'c1', '-c', 'limits.cpu.allowance=20ms/100ms', '-c', 'limits.processes=50', '-c', 'limits.kernel.nofile=200']);
  t.equal(l.code, 0, l.stderr);
  const pid = (await d.client.getInstanceState('c1')).pid;
  t.equal(payloadCgroupFile('cpu', pid, 'cpu.cfs_quota_us'), '20000');
  t.equal(payloadCgroupFile('cpu', pid, 'cpu.cfs_period_us'), '100000');
  t.equal(payloadCgroupFile('pids', pid, 'pids.max'), '50');
  t.match(lxcAttach(d.dir, 'c1', ['sh', '-c', 'ulimit -n']).out.trim(), '200', 'limits.kernel.nofile applied');

  const before = Number(/nr_throttled (\d+)/.exec(payloadCgroupFile('cpu', pid, 'cpu.stat'))?.[1]);
  lxcAttach(d.dir, 'c1', ['timeout', '1', 'sh', '-c', 'while :; do :; done']);
  const after = Number(/nr_throttled (\d+)/.exec(payloadCgroupFile('cpu', pid, 'cpu.stat'))?.[1]);
  t.ok(after > before, `a busy loop is throttled (nr_throttled ${before} -> ${after})`);

  const fork = lxcAttach(d.dir, 'c1', ['sh', '-c', 'for i in $(seq 80); do sleep 3 & done; wait'], 30_000);
  t.match(fork.err, /fork|resource|Resource/i, 'a fork loop hits limits.processes');
  t.ok(Number(payloadCgroupFile('pids', pid, 'pids.max')) === 50);
  await new Promise((r) => setTimeout(r, 3500));
  t.equal(lxcAttach(d.dir, 'c1', ['true']).code, 0, 'healthy afterwards');

  const soft = await rawRequest(d.socket, 'PATCH', '/1.0/instances/c1', JSON.stringify({ config: { 'limits.cpu.allowance': '20%', 'limits.cpu': '1' } }));
  t.equal(soft.status, 200, JSON.stringify(soft.body));
  t.equal(payloadCgroupFile('cpu', pid, 'cpu.shares'), '205', '20% is a soft share, as in Incus');
  t.equal(payloadCgroupFile('cpu', pid, 'cpu.cfs_quota_us'), '-1', 'and lifts the hard quota');
  t.match(payloadCgroupFile('cpuset', pid, 'cpuset.cpus'), /^\d$/, 'limits.cpu=1 pins one CPU');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});

t.test('bad config is refused and changes nothing', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['create', 'busybox', 'b1'])).code, 0);
  for (const [key, value] of [['limits.memory', 'lots'], ['limits.cpu', '0'], ['limits.cpu.allowance', '200%'], ['boot.autostart', 'perhaps'], ['no.such.key', '1'], ['raw.lxc', 'lxc.net.0.type = veth']]) {
    const r = await rawRequest(d.socket, 'PATCH', '/1.0/instances/b1', JSON.stringify({ config: { [key]: value } }));
    t.equal(r.status, 400, `${key}=${value} refused`);
    t.match(String(r.body.error), key, 'the error names the key');
  }
  const inst = await d.client.getInstance('b1');
  t.notOk('limits.memory' in inst.config, 'nothing changed');
  const delDefault = await rawRequest(d.socket, 'DELETE', '/1.0/profiles/default');
  t.equal(delDefault.status, 400);
  const renDefault = await rawRequest(d.socket, 'POST', '/1.0/profiles/default', JSON.stringify({ name: 'x' }));
  t.equal(renDefault.status, 403);
  const etag = String((await rawRequest(d.socket, 'GET', '/1.0/profiles/default')).headers.etag);
  const stale = await rawRequest(d.socket, 'PUT', '/1.0/profiles/default', JSON.stringify({ config: {}, devices: {} }), { 'If-Match': '"stale"' });
  t.equal(stale.status, 412);
  t.ok(etag.length > 10);
});

t.test('protection.delete, privileged=false uid, isolated idmaps', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['create', 'busybox', 'p1', '-c', 'security.protection.delete=true'])).code, 0);
  const del = await d.cli(['delete', 'p1']);
  t.not(del.code, 0);
  t.match(del.stderr, /protected/);
  t.ok(await d.client.getInstance('p1'), 'still there');

  t.equal((await d.cli(['launch', 'busybox', 'i1', '-c', 'security.idmap.isolated=true'])).code, 0);
  t.equal((await d.cli(['launch', 'busybox', 'i2', '-c', 'security.idmap.isolated=true'])).code, 0);
  const b1 = Number((await d.client.getInstance('i1')).config['volatile.idmap.base']);
  const b2 = Number((await d.client.getInstance('i2')).config['volatile.idmap.base']);
  t.ok(b1 > 0 && b2 > 0);
  t.ok(Math.abs(b1 - b2) >= 65536, `disjoint ranges (${b1}, ${b2})`);
  for (const [n, b] of [['i1', b1], ['i2', b2]] as const) {
    const m = lxcAttach(d.dir, n, ['cat', '/proc/self/uid_map']).out.trim().split(/\s+/);
    t.same(m.map(Number), [0, b, 65536], `${n} maps 0 to its own base`);
  }
  // A bigger range goes after both, not over the second; a raw.idmap entry over the map's own host ids is refused at once.
  t.equal((await d.cli(['launch', 'busybox', 'i3', '-c', 'security.idmap.isolated=true', '-c', 'security.idmap.size=100000'])).code, 0);
  const b3 = Number((await d.client.getInstance('i3')).config['volatile.idmap.base']);
  t.ok(b3 >= Math.max(b1, b2) + 65536, `placed after the others (${b3})`);
  const clash = await d.cli(['config', 'set', 'i3', `raw.idmap=uid ${b3 + 1} 1000`]);
  t.not(clash.code, 0);
  t.match(clash.stderr, /Failed to get ID map: Host ID is in the range of subids/, clash.stderr);
  t.equal((await d.client.getInstance('i3')).config['raw.idmap'], undefined, 'nothing recorded');
  t.equal((await d.cli(['config', 'set', 'i3', 'security.idmap.size=70000'])).code, 0);
  t.match((await d.client.getInstance('i3')).config['volatile.idmap.next'], /"Maprange":70000/, 'the next map recorded at once');
  for (const n of ['i1', 'i2', 'i3']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});

t.test('seccomp: security.syscalls.deny and the default deny list', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'sc1', '-c', 'security.syscalls.deny=sethostname'])).code, 0);
  const denied = lxcAttach(d.dir, 'sc1', ['hostname', 'blocked']);
  t.not(denied.code, 0, 'sethostname is refused');
  t.match(denied.err, /not implemented|Function not implemented/i, 'with ENOSYS as Incus answers');
  t.equal((await d.cli(['launch', 'busybox', 'sc2'])).code, 0);
  t.equal(lxcAttach(d.dir, 'sc2', ['hostname', 'allowed']).code, 0, 'allowed without the key');
  for (const n of ['sc1', 'sc2']) t.equal((await d.cli(['delete', '-f', n])).code, 0);
});
