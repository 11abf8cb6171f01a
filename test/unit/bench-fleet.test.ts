/** Pure parts of the fleet benchmarks: the counts read from the environment and the bounded launch pool. */
import t from 'tap';
import { bulkCount } from '../../bench/cases/bulk';
import { listCounts } from '../../bench/cases/list';
import { positiveCount } from '../../bench/lib/env-count';
import { pool } from '../../bench/lib/fleet';

t.test('list counts: default, sorted, deduplicated, validated', async (t) => {
  t.same(listCounts(undefined), [0, 200, 1000]);
  t.same(listCounts(''), [0, 200, 1000]);
  t.same(listCounts('50, 0,50'), [0, 50]);
  t.throws(() => listCounts('0,-1'), RangeError);
  t.throws(() => listCounts('ten'), RangeError);
});

t.test('positive counts: fallback when unset, the variable named when invalid', async (t) => {
  t.equal(positiveCount('BENCH_X', undefined, 7), 7);
  t.equal(positiveCount('BENCH_X', ' ', 7), 7);
  t.equal(positiveCount('BENCH_X', '12', 7), 12);
  for (const bad of ['0', '-3', '1.5', 'many']) {
    t.throws(() => positiveCount('BENCH_X', bad, 7), { name: 'RangeError', message: new RegExp(`BENCH_X must be a positive integer, got "${bad}"`) });
  }
  t.equal(bulkCount(undefined), 200, 'bulk defaults to 200');
  t.throws(() => bulkCount('0'), /BENCH_BULK_COUNT/);
});

t.test('pool runs every index once with at most `width` in flight', async (t) => {
  let inFlight = 0;
  let peak = 0;
  const seen: number[] = [];
  await pool(3, 20, 4, new AbortController().signal, async (i) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, 2));
    seen.push(i);
    inFlight--;
  });
  t.same([...seen].sort((a, b) => a - b), Array.from({ length: 17 }, (_, k) => k + 3));
  t.equal(peak, 4);
});

t.test('pool stops taking work after the first failure and rethrows it', async (t) => {
  const started: number[] = [];
  await t.rejects(
    pool(0, 100, 2, new AbortController().signal, async (i) => {
      started.push(i);
      if (i === 3) throw new Error('boom at 3');
    }),
    { message: 'boom at 3' },
  );
  t.ok(started.length < 10, `stopped early (${started.length} started)`);
});

t.test('pool refuses to go on once aborted', async (t) => {
  const ac = new AbortController();
  ac.abort();
  let ran = 0;
  await t.rejects(pool(0, 5, 2, ac.signal, async () => void ran++), { message: 'interrupted' });
  t.equal(ran, 0);
});
