/** The metrics bench case's settings and verdict. */
import t from 'tap';
import { metricsCounts, metricsVerdict } from '../../bench/cases/metrics';

t.test('counts', async (t) => {
  t.same(metricsCounts(undefined), [1000]);
  t.same(metricsCounts('50, 10,50'), [10, 50]);
  t.throws(() => metricsCounts('0'), { name: 'RangeError' });
  t.throws(() => metricsCounts('x'), /BENCH_METRICS_COUNTS/);
});

t.test('verdict: scrape at most 1.5x the list', async (t) => {
  t.same(metricsVerdict(100, 150), { ratio: 1.5, met: true });
  t.equal(metricsVerdict(100, 151).met, false);
});
