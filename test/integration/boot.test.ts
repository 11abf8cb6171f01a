/** admin shutdown stops instances and the daemon; the next start brings back what ran, in priority order. */
import t from 'tap';
import { withDaemon } from './lib/daemon';

t.test('admin shutdown, then autostart on the next start', async (t) => {
  const d = await withDaemon(t);
  t.equal((await d.cli(['launch', 'busybox', 'a1', '-c', 'boot.autostart.priority=1'])).code, 0);
  t.equal((await d.cli(['launch', 'busybox', 'a2', '-c', 'boot.autostart.priority=5'])).code, 0);
  t.equal((await d.cli(['create', 'busybox', 'a3'])).code, 0);
  t.equal((await d.cli(['launch', 'busybox', 'a4', '-c', 'boot.autostart=false'])).code, 0);
  const proc = d.proc!;
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const sd = await d.cli(['admin', 'shutdown']);
  t.equal(sd.code, 0, sd.stderr);
  t.equal(await exited, 0, 'the daemon exits');
  d.proc = null;

  await d.start();
  const deadline = Date.now() + 20000;
  let states: Record<string, string> = {};
  while (Date.now() < deadline) {
    states = {};
    for (const n of ['a1', 'a2', 'a3', 'a4']) states[n] = (await d.client.getInstanceState(n)).status;
    if (states.a1 === 'Running' && states.a2 === 'Running') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.same(states, { a1: 'Running', a2: 'Running', a3: 'Stopped', a4: 'Stopped' }, 'what ran comes back, except boot.autostart=false');
  const started = async (n: string) => Date.parse((await d.client.getInstanceState(n)).started_at);
  t.ok((await started('a2')) <= (await started('a1')), 'higher boot.autostart.priority starts first');
});
