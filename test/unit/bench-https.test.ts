/** Pure parts of the HTTPS-vs-socket benchmark: its count, the side order, the 1.5× verdict. */
import t from 'tap';
import { HTTPS_TARGET_RATIO, httpsCount, httpsVerdict, sidesInOrder } from '../../bench/cases/https';

t.test('BENCH_HTTPS_COUNT: 200 when unset, named when invalid', async (t) => {
  t.equal(httpsCount(undefined), 200);
  t.equal(httpsCount(''), 200);
  t.equal(httpsCount('3'), 3);
  t.throws(() => httpsCount('0'), /BENCH_HTTPS_COUNT/);
  t.throws(() => httpsCount('lots'), RangeError);
});

t.test('sides swap each round, so neither always goes first', async (t) => {
  t.same(sidesInOrder(0), ['socket', 'https']);
  t.same(sidesInOrder(1), ['https', 'socket']);
  t.same(sidesInOrder(2), ['socket', 'https']);
});

t.test('verdict: HTTPS / socket, met up to and including the target', async (t) => {
  t.equal(HTTPS_TARGET_RATIO, 1.5);
  t.same(httpsVerdict(10, 15), { ratio: 1.5, met: true });
  t.same(httpsVerdict(10, 12), { ratio: 1.2, met: true });
  t.same(httpsVerdict(10, 16), { ratio: 1.6, met: false });
});
