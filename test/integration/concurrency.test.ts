/** While 10 containers start in parallel, GET /1.0 keeps being answered promptly. */
import t from 'tap';
import { withDaemon } from './lib/daemon';
import { rawRequest } from './lib/http';

t.test('the event loop is not blocked by parallel starts', async (t) => {
  const d = await withDaemon(t);
  const names = Array.from({ length: 10 }, (_, i) => `p${i}`);
  for (const n of names) t.equal((await d.cli(['create', 'busybox', n])).code, 0);

  let polling = true;
  const latencies: number[] = [];
  const poller = (async () => {
    while (polling) {
      const t0 = process.hrtime.bigint();
      const r = await rawRequest(d.socket, 'GET', '/1.0');
      if (r.status !== 200) throw new Error(`GET /1.0 answered ${r.status}`);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await new Promise((res) => setTimeout(res, 5));
    }
  })();

  const ops = await Promise.all(names.map((n) => d.client.updateInstanceState(n, { action: 'start' })));
  await Promise.all(ops.map((op) => op.wait()));
  polling = false;
  await poller;

  const states = await Promise.all(names.map((n) => d.client.getInstanceState(n)));
  t.ok(states.every((s) => s.status === 'Running'), 'all 10 running');
  const worst = Math.max(...latencies);
  t.ok(latencies.length >= 5, `GET /1.0 answered ${latencies.length} times during the starts`);
  t.ok(worst < 500, `slowest GET /1.0 during the starts: ${worst.toFixed(1)} ms`);
});
