/**
 * Instances that stop on their own (init killed from the host): recorded as
 * stopped with an instance-shutdown event, ephemeral ones deleted,
 * boot.autorestart ones started again (at most 10 times a minute), and a
 * stop the daemon runs itself never taken for one.
 */
import t from 'tap';
import { withDaemon, type TestDaemon } from './lib/daemon';

async function pidOf(d: TestDaemon, name: string): Promise<number> {
  return (await d.client.getInstanceState(name)).pid;
}

/** Polls until check() holds or the deadline passes; returns whether it held. */
async function until(check: () => Promise<boolean>, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

t.test('a killed init: stopped and recorded; ephemeral deleted', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1'])).code, 0);
  t.equal((await d.cli(['launch', 'busybox', 'e1', '--ephemeral'])).code, 0);
  process.kill(await pidOf(d, 'c1'), 'SIGKILL');
  process.kill(await pidOf(d, 'e1'), 'SIGKILL');
  t.ok(await until(async () => (await d.client.getInstance('c1')).config['volatile.last_state.power'] === 'STOPPED'), 'power state recorded as STOPPED');
  t.equal((await d.client.getInstanceState('c1')).status, 'Stopped');
  t.ok(await until(async () => !(await d.cli(['list', '-f', 'csv', '-c', 'n'])).stdout.includes('e1')), 'the ephemeral instance is gone');
  t.equal((await d.cli(['start', 'c1'])).code, 0, 'and c1 starts again');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});

t.test('boot.autorestart: restarted after a kill, up to 10 times a minute', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1', '-c', 'boot.autorestart=true'])).code, 0);
  let pid = await pidOf(d, 'c1');
  for (let i = 1; i <= 10; i++) {
    process.kill(pid, 'SIGKILL');
    const old = pid;
    t.ok(await until(async () => (pid = await pidOf(d, 'c1')) > 0 && pid !== old), `restart ${i}`);
  }
  process.kill(pid, 'SIGKILL');
  t.ok(await until(async () => (await d.client.getInstance('c1')).config['volatile.last_state.power'] === 'STOPPED'), 'the 11th exit within a minute leaves it stopped');
  t.equal((await d.client.getInstanceState('c1')).status, 'Stopped');

  // Stops and restarts the daemon runs are not exits to act on.
  t.equal((await d.cli(['start', 'c1'])).code, 0);
  t.equal((await d.cli(['restart', 'c1', '--force'])).code, 0);
  t.equal((await d.client.getInstanceState('c1')).status, 'Running');
  t.equal((await d.cli(['stop', 'c1', '--force'])).code, 0);
  await new Promise((r) => setTimeout(r, 1500));
  t.equal((await d.client.getInstanceState('c1')).status, 'Stopped', 'a user stop is not undone by auto-restart');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});

t.test('instances running when the daemon starts are watched too', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'c1', '-c', 'boot.autorestart=true'])).code, 0);
  await d.signal('SIGKILL');
  await d.start();
  const pid = await pidOf(d, 'c1');
  process.kill(pid, 'SIGKILL');
  t.ok(await until(async () => {
    const now = await pidOf(d, 'c1');
    return now > 0 && now !== pid;
  }), 'restarted by the new daemon');
  t.equal((await d.cli(['delete', '-f', 'c1'])).code, 0);
});
