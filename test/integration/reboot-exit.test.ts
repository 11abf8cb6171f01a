/**
 * A reboot asked for inside a container is not an instance-initiated stop:
 * the recorded power state stays RUNNING and an ephemeral instance survives.
 */
import t from 'tap';
import { withDaemon } from './lib/daemon';

t.test('reboot inside keeps power RUNNING and ephemeral instances', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'rb', '--ephemeral'])).code, 0);
  const before = (await d.client.getInstanceState('rb')).pid;
  await d.cli(['exec', 'rb', '--', 'reboot']);
  const end = Date.now() + 20_000;
  let pid = before;
  while (Date.now() < end) {
    const st = await d.client.getInstanceState('rb').catch(() => null);
    if (st && st.status === 'Running' && st.pid > 0 && st.pid !== before) {
      pid = st.pid;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  t.not(pid, before, 'back with a new init');
  await new Promise((r) => setTimeout(r, 2000));
  const inst = await d.client.getInstance('rb');
  t.equal(inst.config['volatile.last_state.power'], 'RUNNING', 'power state still RUNNING');
  t.equal((await d.client.getInstanceState('rb')).status, 'Running');
  t.equal((await d.cli(['delete', '-f', 'rb'])).code, 0);
});
