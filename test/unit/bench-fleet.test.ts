/** Pure parts of the fleet benchmarks: the list counts and the bounded launch pool. */
import t from 'tap';
import { listCounts } from '../../bench/cases/list';
import { pool } from '../../bench/lib/fleet';

t.test('list counts: default, sorted, deduplicated, validated', async (t) => {
  t.same(listCounts(undefined), [0, 200, 1000]);
  t.same(listCounts(''), [0, 200, 1000]);
  t.same(listCounts('50, 0,50'), [0, 50]);
  t.throws(() => listCounts('0,-1'), RangeError);
  t.throws(() => listCounts('ten'), RangeError);
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
