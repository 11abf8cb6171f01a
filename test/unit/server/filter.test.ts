import t from 'tap';
import { matchFilter, parseFilter } from '../../../lib/server/http/filter';

const inst = { name: 'c1', status: 'Running', config: { 'image.os': 'busybox', 'user.a': 'x' }, expanded_config: { 'image.os': 'busybox' } };

t.test('filters', async (t) => {
  t.ok(matchFilter(parseFilter('name eq c1'), inst));
  t.notOk(matchFilter(parseFilter('name eq c2'), inst));
  t.ok(matchFilter(parseFilter('status eq running'), inst), 'status is case-insensitive');
  t.ok(matchFilter(parseFilter('name eq c1 and status ne Stopped'), inst));
  t.ok(matchFilter(parseFilter('name eq c2 or status eq Running'), inst));
  t.ok(matchFilter(parseFilter('not name eq c2'), inst));
  t.ok(matchFilter(parseFilter('config.image.os eq busybox'), inst), 'dotted keys inside maps');
  t.ok(matchFilter(parseFilter('config.user.a eq "x"'), inst), 'quoted values');
  t.throws(() => parseFilter('name c1'));
  t.throws(() => parseFilter('name eq c1 xor status eq x'));
});
