import t from 'tap';
import { formatCpuSet, parseCpuSet, parseDuration, parseSize } from '../../../lib/server/instance/config/units';
import * as v from '../../../lib/server/instance/config/validators';
import { keySpec } from '../../../lib/server/instance/config/keys';
import { rawLxcProblem, parseRawLxc } from '../../../lib/server/instance/config/raw-lxc';

t.test('units', async (t) => {
  t.equal(parseSize('512MiB'), 512 * 2 ** 20);
  t.equal(parseSize('1GB'), 1e9);
  t.equal(parseSize('1.5GiB'), 1.5 * 2 ** 30);
  t.equal(parseSize('1024'), 1024);
  t.equal(parseSize('12XB'), null);
  t.equal(parseSize('abc'), null);
  t.equal(parseDuration('1d'), 86400);
  t.equal(parseDuration('2w 1H'), 2 * 7 * 86400 + 3600);
  t.equal(parseDuration('3x'), null);
  t.equal(parseDuration('1d 3H 30S'), 86400 + 3 * 3600 + 30);
  t.same(parseCpuSet('0-2,5'), [0, 1, 2, 5]);
  t.equal(parseCpuSet('2-1'), null);
  t.equal(formatCpuSet([5, 0, 1, 2]), '0-2,5');
});

t.test('validators', async (t) => {
  t.equal(v.isBool('yes'), null);
  t.ok(v.isBool('maybe'));
  t.equal(v.isSizeOrPercent('50%'), null);
  t.ok(v.isSizeOrPercent('150%'));
  t.equal(v.isCpuLimit('2'), null);
  t.equal(v.isCpuLimit('0-1'), null);
  t.ok(v.isCpuLimit('0'));
  t.equal(v.isCpuAllowance('25ms/100ms'), null);
  t.equal(v.isCpuAllowance('50%'), null);
  t.ok(v.isCpuAllowance('50'));
  t.equal(v.isCronSchedule('0 6 * * *'), null);
  t.equal(v.isCronSchedule('@daily, @hourly'), null);
  t.equal(v.isCronSchedule('0 1,13 * * *'), null, 'a comma inside a field is a list');
  t.equal(v.isCronSchedule('0 6 * * *, @hourly'), null);
  t.ok(v.isCronSchedule('0 6 * *'));
  t.equal(v.inRange(0, 10)('10'), null);
  t.ok(v.inRange(0, 10)('11'));
  t.equal(v.isRlimit('1024:2048'), null);
  t.equal(v.isRlimit('unlimited'), null);
  t.ok(v.isRlimit('1:2:3'));
  t.equal(v.isSize(''), null, 'empty means unset');
});

t.test('key table', async (t) => {
  t.equal(keySpec('user.anything'), 'free');
  t.ok(keySpec('limits.kernel.nofile'));
  t.equal(keySpec('limits.kernel.'), undefined);
  t.equal(keySpec('bogus'), undefined);
  const mem = keySpec('limits.memory');
  t.ok(mem && mem !== 'free' && mem.live);
});

t.test('raw.lxc', async (t) => {
  t.equal(rawLxcProblem('lxc.cap.drop = sys_admin\n# comment\n'), null);
  t.match(rawLxcProblem('lxc.net.0.type = veth'), /managed/);
  t.match(rawLxcProblem('lxc.log.file = /tmp/x'), /managed/);
  t.match(rawLxcProblem('nonsense'), /missing "="/);
  t.same(parseRawLxc('a.b = 1\n\nlxc.x=2'), [['a.b', '1'], ['lxc.x', '2']]);
});
