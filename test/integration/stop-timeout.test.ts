/**
 * Issue 09, defect 6: a clean stop whose timeout passes fails as Incus's
 * does ("Failed shutting down instance, status is "Running"") and leaves the
 * instance running; --force still stops it. busybox init ignores SIGWINCH,
 * given here as the halt signal.
 */
import t from 'tap';
import { withDaemon } from './lib/daemon';

t.test('stop --timeout on an init that ignores the halt signal fails and keeps it running', async (t) => {
  const d = await withDaemon(t);
  const l = await d.cli(['launch', 'busybox', 'deaf', '-c', 'raw.lxc=lxc.signal.halt=SIGWINCH']);
  t.equal(l.code, 0, `launch: ${l.stderr}`);
  const pid = (await d.client.getInstanceState('deaf')).pid;

  const t0 = Date.now();
  const stop = await d.cli(['stop', 'deaf', '--timeout', '2']);
  const ms = Date.now() - t0;
  t.not(stop.code, 0, 'stop fails');
  t.match(stop.stderr, /Failed shutting down instance, status is "Running"/, 'with the Incus message');
  t.ok(ms >= 2000, `waited the timeout first (${ms} ms)`);
  const st = await d.client.getInstanceState('deaf');
  t.equal(st.status, 'Running', 'still running');
  t.equal(st.pid, pid, 'same init');

  const restart = await d.cli(['restart', 'deaf', '--timeout', '1']);
  t.not(restart.code, 0, 'restart with a timeout fails the same way');
  t.match(restart.stderr, /Failed shutting down instance, status is "Running"/);
  t.equal((await d.client.getInstanceState('deaf')).pid, pid, 'and leaves the same init running');

  const force = await d.cli(['stop', 'deaf', '--timeout', '2', '--force']);
  t.equal(force.code, 0, `stop --force: ${force.stderr}`);
  t.equal((await d.client.getInstanceState('deaf')).status, 'Stopped');
});
