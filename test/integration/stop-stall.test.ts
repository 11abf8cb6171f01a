/**
 * Issue 09, defect 3: clean stops of containers whose init reboots instead
 * of halting (busybox init reboots on SIGTERM, given here as the halt
 * signal) must not stall the API. They used to park libuv's four pool
 * threads on liblxc waits, so that listing and state reads queued behind
 * them for seconds. More concurrent stops than pool threads; every read
 * made meanwhile must answer within a bound generous enough for a loaded
 * 2-core box.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { withDaemon } from './lib/daemon';

/** init asks for a reboot on the halt signal (busybox: SIGTERM): stop must still end STOPPED. */
const RAW_LXC = 'lxc.signal.halt=SIGTERM';
/** Four times libuv's default pool (4): the old code queued reads for seconds behind them. */
const COUNT = 16;
/** Generous for a loaded 2-core box: the old code stalled reads for seconds here, the fixed one for ~0.2 s at most. */
const BOUND_MS = 2000;

t.test('API reads answer promptly during many slow clean stops', async (t) => {
  const d = await withDaemon(t);
  const names = Array.from({ length: COUNT }, (_, i) => `rb${i}`);
  for (let i = 0; i < names.length; i += 4) {
    const batch = names.slice(i, i + 4);
    const res = await Promise.all(batch.map((n) => d.cli(['launch', 'busybox', n, '-c', `raw.lxc=${RAW_LXC}`])));
    res.forEach((r, j) => t.equal(r.code, 0, `launch ${batch[j]}: ${r.stderr}`));
  }

  // Through the client, so that all stops reach the daemon at once (CLI processes start staggered).
  const stops = Promise.allSettled(names.map(async (n) => (await d.client.updateInstanceState(n, { action: 'stop', timeout: 60 })).wait()));
  let done = false;
  void stops.finally(() => (done = true));
  const lat = { list: [] as number[], state: [] as number[] };
  while (!done) {
    let t0 = performance.now();
    const list = await d.client.getInstances(2);
    lat.list.push(performance.now() - t0);
    t.equal(list.length, COUNT, 'the listing has every instance');
    t0 = performance.now();
    await d.client.getInstanceState('rb0');
    lat.state.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 50));
  }
  const results = await stops;
  results.forEach((r, i) => t.equal(r.status, 'fulfilled', `stop ${names[i]}: ${r.status === 'rejected' ? String(r.reason) : 'ok'}`));

  const max = (a: number[]): number => Math.round(Math.max(...a));
  t.comment(`during ${COUNT} stops: ${lat.list.length} listings, max ${max(lat.list)} ms; state reads max ${max(lat.state)} ms`);
  t.ok(lat.list.length >= 3, 'several listings were made during the stops');
  t.ok(max(lat.list) < BOUND_MS, `GET /1.0/instances?recursion=2 stayed under ${BOUND_MS} ms (max ${max(lat.list)} ms)`);
  t.ok(max(lat.state) < BOUND_MS, `GET /1.0/instances/rb0/state stayed under ${BOUND_MS} ms (max ${max(lat.state)} ms)`);

  const after = await d.client.getInstances(2);
  t.ok(
    after.every((i) => (i as { status: string }).status === 'Stopped'),
    'every instance ended STOPPED although its init rebooted',
  );
});
