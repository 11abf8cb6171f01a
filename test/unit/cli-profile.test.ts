/** `profile list` columns and filters. */
import t from 'tap';
import type { Profile } from '../../lib/api/profile';
import { matchProfile, parseProfileColumns } from '../../lib/cli/commands/profile-list';

const p = (name: string, extra: Partial<Profile> = {}): Profile => ({
  name,
  description: '',
  config: {},
  devices: {},
  used_by: [],
  project: 'default',
  ...extra,
});

t.test('columns: n, e, d, u; Incus messages for bad specs', async (t) => {
  const cols = parseProfileColumns('ndu');
  t.same(
    cols.map(([n]) => n),
    ['NAME', 'DESCRIPTION', 'USED BY'],
  );
  t.same(
    cols.map(([, f]) => f(p('x', { description: 'd', used_by: ['/1.0/instances/a', '/1.0/instances/b'] }))),
    ['x', 'd', '2'],
  );
  t.same(
    parseProfileColumns('e,n').map(([n]) => n),
    ['PROJECT', 'NAME'],
  );
  t.throws(() => parseProfileColumns('nx'), { message: "Unknown column shorthand char 'x' in 'nx'" });
  t.throws(() => parseProfileColumns('n,'), { message: "Empty column entry (redundant, leading or trailing command) in 'n,'" });
});

t.test('filters: a bare word is a name prefix, key=value a whole-value pattern', async (t) => {
  const web = p('web-small', { description: 'for web servers', config: { 'limits.cpu': '2' } });
  t.ok(matchProfile(web, []));
  t.ok(matchProfile(web, ['web']));
  t.notOk(matchProfile(web, ['small']));
  t.ok(matchProfile(web, ['name=web-small']));
  t.notOk(matchProfile(web, ['name=web']), 'key=value matches the whole value');
  t.ok(matchProfile(web, ['description=.*web.*']));
  t.ok(matchProfile(web, ['config.limits.cpu=2']));
  t.notOk(matchProfile(web, ['config.limits.memory=.*']), 'an unset key matches nothing');
  t.ok(matchProfile(web, ['web', 'project=default']), 'all filters must match');
  t.ok(matchProfile(p('a(b'), ['name=a(b']), 'an invalid pattern compares literally');
});
