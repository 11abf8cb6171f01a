import t from 'tap';
import { parseCron } from '../../lib/server/instance/cron';
import { cronSpecs, parseSchedule, spreadFor } from '../../lib/server/instance/snapshot-schedule';
import { expiryFrom, goDate, nextSnapshotName } from '../../lib/server/instance/snapshot-names';

const at = (s: string): Date => new Date(s);

t.test('cron fields', async (t) => {
  t.ok(parseCron('* * * * *').matches(at('2024-03-05T10:07:00')));
  t.ok(parseCron('*/15 * * * *').matches(at('2024-03-05T10:30:00')));
  t.notOk(parseCron('*/15 * * * *').matches(at('2024-03-05T10:31:00')));
  t.ok(parseCron('5-10/5 9-17 * * mon-fri').matches(at('2024-03-05T10:10:00')), 'Tuesday in range');
  t.notOk(parseCron('0 9 * * mon-fri').matches(at('2024-03-09T09:00:00')), 'Saturday');
  t.ok(parseCron('0 0 * * 7').matches(at('2024-03-10T00:00:00')), '7 is Sunday');
  t.ok(parseCron('0 0 1 jan *').matches(at('2025-01-01T00:00:00')));
  t.ok(parseCron('0 0 13 * 5').matches(at('2024-03-13T00:00:00')), 'day-of-month OR day-of-week');
  t.ok(parseCron('1,2,3 * * * *').matches(at('2024-03-13T00:02:00')));
  t.throws(() => parseCron('* * * *'), /5 fields/);
  t.throws(() => parseCron('60 * * * *'), /Invalid cron expression "60 \* \* \* \*": .*range/);
  t.throws(() => parseCron('5-1 * * * *'), /Invalid range/);
});

t.test('aliases and lists', async (t) => {
  const { minute, hour } = spreadFor(42);
  t.same(cronSpecs('@daily', 42), [`${minute} ${hour} * * *`]);
  t.same(cronSpecs('@never', 42), []);
  t.same(cronSpecs('0 1 * * *, @hourly', 42), ['0 1 * * *', `${minute} * * * *`]);
  t.ok(parseSchedule('0 1 * * *, 0 2 * * *', 1).matches(at('2024-03-05T02:00:00')));
  t.same(spreadFor(42), spreadFor(42), 'stable');
});

t.test('names', async (t) => {
  const now = at('2024-03-05T09:04:05');
  t.equal(nextSnapshotName('snap%d', [], now), 'snap0');
  t.equal(nextSnapshotName('snap%d', ['snap0', 'snap7', 'other'], now), 'snap8');
  t.equal(nextSnapshotName("{{ creation_date|date:'2006-01-02' }}", [], now), '2024-03-05');
  t.equal(nextSnapshotName("{{ creation_date|date:'2006-01-02' }}", ['2024-03-05'], now), '2024-03-05-0');
  t.equal(nextSnapshotName("s-{{ creation_date|date:'150405' }}-%d", [], now), 's-090405-0');
  t.equal(goDate(now, 'Jan 2 3:04PM'), 'Mar 5 9:04AM');
  t.throws(() => nextSnapshotName('a%db%d', [], now), /only once/);
  t.throws(() => nextSnapshotName('{{ other }}', [], now), /Unsupported template/);
});

t.test('expiry', async (t) => {
  const from = at('2024-01-31T00:00:00Z');
  t.equal(expiryFrom(from, ''), null);
  t.equal(expiryFrom(from, '2w')!.toISOString(), '2024-02-14T00:00:00.000Z');
  t.equal(expiryFrom(from, '1d 3H')!.toISOString(), '2024-02-01T03:00:00.000Z');
  t.equal(expiryFrom(from, '30S')!.toISOString(), '2024-01-31T00:00:30.000Z');
  t.throws(() => expiryFrom(from, '1d 2d'), /Invalid expiry/);
  t.throws(() => expiryFrom(from, '1x'), /Invalid expiry/);
});
