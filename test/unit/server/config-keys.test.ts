import t from 'tap';
import { isTrue, validateInstanceConfig } from '../../../lib/server/instance/config-keys';

t.test('config validation', async (t) => {
  t.doesNotThrow(() => validateInstanceConfig({ 'security.privileged': 'true', 'user.x': 'anything', 'environment.FOO': 'bar' }));
  t.throws(() => validateInstanceConfig({ 'security.privileged': 'maybe' }), /security\.privileged/);
  t.throws(() => validateInstanceConfig({ 'nope.key': '1' }), /nope\.key/);
  t.throws(() => validateInstanceConfig({ 'user.x': 1 as unknown as string }), /user\.x/);
  t.ok(isTrue('TRUE'));
  t.notOk(isTrue('0'));
  t.notOk(isTrue(undefined));
});
