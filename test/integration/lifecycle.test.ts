/**
 * Acceptance for issue 01 through our CLI against a real daemon: launch,
 * list, unprivileged init, stop/start/delete, and survival across kill -9.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { withDaemon } from './lib/daemon';

function hostUid(pid: number): number {
  const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

t.test('launch, list, stop --force, start, delete through the CLI', async (t) => {
  const d = await withDaemon(t);
  const l = await d.cli(['launch', 'busybox', 'c1']);
  t.equal(l.code, 0, `launch: ${l.stderr}`);

  const list = await d.cli(['list', '--format', 'csv', '-c', 'ns']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^c1,RUNNING$/m, 'list shows c1 RUNNING');

  const st = await d.client.getInstanceState('c1');
  t.ok(st.pid > 0, 'state has an init pid');
  t.not(hostUid(st.pid), 0, 'init runs as a non-zero host uid');
  const inst = await d.client.getInstance('c1');
  t.equal(hostUid(st.pid), Number(inst.config['volatile.idmap.base']), 'init runs as the idmap base uid');

  const stop = await d.cli(['stop', '--force', 'c1']);
  t.equal(stop.code, 0, stop.stderr);
  t.match((await d.cli(['list', '-f', 'csv', '-c', 'ns'])).stdout, /^c1,STOPPED$/m);

  const start = await d.cli(['start', 'c1']);
  t.equal(start.code, 0, start.stderr);
  t.match((await d.cli(['list', '-f', 'csv', '-c', 'ns'])).stdout, /^c1,RUNNING$/m);

  const del = await d.cli(['delete', 'c1']);
  t.not(del.code, 0, 'delete of a running instance is refused');
  const delf = await d.cli(['delete', '--force', 'c1']);
  t.equal(delf.code, 0, delf.stderr);
  t.equal((await d.cli(['list', '-f', 'csv', '-c', 'n'])).stdout.trim(), '', 'nothing left');
});

t.test('containers survive kill -9 of the daemon', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'k1'])).code, 0);
  const before = await d.client.getInstanceState('k1');
  await d.signal('SIGKILL');
  t.ok(readFileSync(`/proc/${before.pid}/status`, 'utf8').length > 0, 'init still alive while the daemon is down');
  await d.start();
  const after = await d.client.getInstanceState('k1');
  t.equal(after.status, 'Running', 'still running after restart');
  t.equal(after.pid, before.pid, 'same init process');
  t.match((await d.cli(['list', '-f', 'csv', '-c', 'ns'])).stdout, /^k1,RUNNING$/m);
  const stop = await d.cli(['stop', '-f', 'k1']);
  t.equal(stop.code, 0, stop.stderr);
  t.equal((await d.client.getInstanceState('k1')).status, 'Stopped');
});

t.test('a clean stop ends the container through its init', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 's1'])).code, 0);
  const t0 = Date.now();
  const stop = await d.cli(['stop', 's1', '--timeout', '20']);
  t.equal(stop.code, 0, stop.stderr);
  t.ok(Date.now() - t0 < 15000, `clean stop took ${Date.now() - t0} ms`);
  t.equal((await d.client.getInstanceState('s1')).status, 'Stopped');
});

t.test('instance type limits, last_used_at from the epoch, cpu.allocated_time from the cgroup', async (t) => {
  const d = await withDaemon(t);
  const init = await d.cli(['init', 'busybox', 'c2', '-t', 'c0.5-m0.2']);
  t.equal(init.code, 0, init.stderr);
  const created = await d.client.getInstance('c2');
  t.same(
    [created.config['limits.cpu'], created.config['limits.cpu.allowance'], created.config['limits.memory']],
    ['1', '50%', '204MiB'],
    'c0.5-m0.2 as Incus turns it into limits',
  );
  t.equal(created.last_used_at, '1970-01-01T00:00:00Z', 'never used: the Unix epoch, as Incus stores it');
  t.equal((await d.client.getInstanceState('c2')).cpu.allocated_time, 0, 'stopped: nothing allocated');
  t.equal((await d.cli(['start', 'c2'])).code, 0);
  t.not((await d.client.getInstance('c2')).last_used_at, '1970-01-01T00:00:00Z', 'set by the start');
  t.equal((await d.client.getInstanceState('c2')).cpu.allocated_time, 1_000_000_000, 'one CPU, a soft allowance');
  t.equal((await d.cli(['config', 'set', 'c2', 'limits.cpu.allowance', '100ms/200ms'])).code, 0);
  t.equal((await d.client.getInstanceState('c2')).cpu.allocated_time, 500_000_000, 'CFS quota over period');
  t.equal((await d.cli(['delete', '--force', 'c2'])).code, 0);
});
