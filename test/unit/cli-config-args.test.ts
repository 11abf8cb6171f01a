/**
 * Argument splitting for `config` and `profile` commands: key=value pairs
 * and the deprecated `key value` form from either side, the optional
 * instance of `config set|get|unset`, stdin values, profile lists, and
 * `--property` access.
 */
import t from 'tap';
import {
  pairsToMap,
  parseConfigGetArgs,
  parseConfigSetArgs,
  parseConfigUnsetArgs,
  parseKeyValuesLeft,
  parseKeyValuesRight,
  parseProfileList,
} from '../../lib/cli/config-args';
import { getProperty, goValue, setProperties, unsetProperties } from '../../lib/cli/properties';
import { snapshotRef } from '../../lib/cli/commands/config-snapshot';
import { splitVolumePath } from '../../lib/cli/commands/storage-volume-keys';
import { INSTANCE_PUT, INSTANCE_SNAPSHOT, INSTANCE_SNAPSHOT_PUT, PROFILE_PUT, STORAGE_VOLUME_SNAPSHOT_PUT } from '../../lib/cli/yaml-decode';

t.test('config set: pairs from the right, the instance is what is left', async (t) => {
  t.same(parseConfigSetArgs(['c1', 'limits.cpu=2', 'user.a=x=y']), {
    target: 'c1',
    pairs: [
      ['limits.cpu', '2'],
      ['user.a', 'x=y'],
    ],
    deprecated: 0,
  });
  t.same(parseConfigSetArgs(['c1', 'limits.cpu', '2']), { target: 'c1', pairs: [['limits.cpu', '2']], deprecated: 1 }, 'older key value form');
  t.same(parseConfigSetArgs(['core.x=y']), { target: undefined, pairs: [['core.x', 'y']], deprecated: 0 }, 'server key');
  t.same(parseConfigSetArgs(['core.x', 'y']), { target: undefined, pairs: [['core.x', 'y']], deprecated: 1 }, 'server key, older form');
  t.same(parseConfigSetArgs(['c1', 'user.e=']), { target: 'c1', pairs: [['user.e', '']], deprecated: 0 }, 'empty value');
  t.same(
    parseConfigSetArgs(['c1', 'user.a=1', 'user.b', '2']).pairs,
    [
      ['user.a', '1'],
      ['user.b', '2'],
    ],
    'both forms mixed',
  );
  t.throws(() => parseConfigSetArgs([]), { message: 'not enough arguments; expected a value for “<key>=<value>”' });
  t.throws(() => parseConfigSetArgs(['c1']), { message: 'unexpected “c1”' });
  t.same(
    parseConfigSetArgs(['a', 'b', 'c=1']),
    {
      target: undefined,
      pairs: [
        ['a', 'b'],
        ['c', '1'],
      ],
      deprecated: 1,
    },
    'two words before a pair are a pair, not an instance (as in Incus)',
  );
});

t.test('key=value pairs from the left (device add/set, profile set)', async (t) => {
  t.same(parseKeyValuesLeft(['path=/mnt', 'source', '/srv', 'readonly=true'], 0), {
    pairs: [
      ['path', '/mnt'],
      ['source', '/srv'],
      ['readonly', 'true'],
    ],
    rest: [],
    deprecated: 1,
  });
  t.same(parseKeyValuesLeft([], 0), { pairs: [], rest: [], deprecated: 0 });
  t.same(parseKeyValuesLeft(['a=1', 'loose'], 0).rest, ['loose'], 'a lone word is left over');
  t.throws(() => parseKeyValuesLeft([], 1), { message: 'not enough arguments; expected a value for “<key>=<value>”' });
  t.throws(() => parseKeyValuesLeft(['x'], 1), { message: 'unexpected “x”' });
  t.same(parseKeyValuesRight(['a', 'b=1'], 0), { pairs: [['b', '1']], rest: ['a'], deprecated: 0 });
});

t.test('config get and unset: where the instance is', async (t) => {
  t.same(parseConfigGetArgs(['c1', 'limits.cpu']), { target: 'c1', key: 'limits.cpu' });
  t.same(parseConfigGetArgs(['core.x']), { key: 'core.x' });
  t.throws(() => parseConfigGetArgs([]), { message: 'not enough arguments; expected a value for “<key>”' });
  t.throws(() => parseConfigGetArgs(['a', 'b', 'c']), { message: 'too many arguments; unexpected “a”' });
  t.same(parseConfigUnsetArgs(['core.x']), { keys: ['core.x'] }, 'one argument is a server key');
  t.same(parseConfigUnsetArgs(['c1', 'a', 'b']), { target: 'c1', keys: ['a', 'b'] });
  t.throws(() => parseConfigUnsetArgs([]), { message: /not enough arguments/ });
});

t.test('stdin values: "-" reads stdin once when it is not a terminal', async (t) => {
  let reads = 0;
  const pipe = { isTerminal: () => false, read: () => (reads++, 'from stdin\n') };
  t.same(pairsToMap([['user.a', '-'], ['user.b', 'x']], pipe), { 'user.a': 'from stdin\n', 'user.b': 'x' });
  t.equal(reads, 1);
  t.throws(() => pairsToMap([['a', '-'], ['b', '-']], pipe), { message: 'Cannot read the stdin twice' });
  t.same(pairsToMap([['a', '-']], { isTerminal: () => true, read: () => 'nope' }), { a: '-' }, 'a terminal is not read');
  t.same(pairsToMap([['a', '1'], ['a', '2']]), { a: '2' }, 'later pairs win');
});

t.test('profile assign lists: spaces, commas, "" for none', async (t) => {
  t.same(parseProfileList(['default', 'p1']), ['default', 'p1']);
  t.same(parseProfileList(['default,p1']), ['default', 'p1']);
  t.same(parseProfileList(['']), []);
});

t.test('--property: read and write struct fields by JSON name', async (t) => {
  const put = { architecture: 'x86_64', config: { a: '1' }, devices: { root: { type: 'disk', path: '/' } }, ephemeral: false, profiles: ['default', 'p'], stateful: false, description: 'd' };
  t.equal(getProperty(put, INSTANCE_PUT, 'Description'), 'd', 'case does not matter');
  t.equal(getProperty(put, INSTANCE_PUT, 'profiles'), '[default p]', "Go's %v for a list");
  t.equal(getProperty(put, INSTANCE_PUT, 'devices'), 'map[root:map[path:/ type:disk]]', "Go's %v for a map");
  t.throws(() => getProperty(put, INSTANCE_PUT, 'nope'), { message: 'The property with tag "nope" does not exist' });
  setProperties(put, INSTANCE_PUT, { ephemeral: 'TRUE', description: 'new' });
  t.equal(put.ephemeral, true);
  t.equal(put.description, 'new');
  t.throws(() => setProperties(put, INSTANCE_PUT, { ephemeral: 'maybe' }), { message: 'Error setting properties: Invalid boolean value: maybe' });
  t.throws(() => setProperties(put, INSTANCE_PUT, { profiles: 'a' }), { message: /Error setting properties/ });
  unsetProperties(put, INSTANCE_PUT, ['ephemeral', 'description', 'profiles']);
  t.same([put.ephemeral, put.description, put.profiles], [false, '', ['default', 'p']], 'lists are left alone, as in Incus');
  const profile = { config: {}, description: 'x', devices: {} };
  t.throws(() => unsetProperties(profile, PROFILE_PUT, ['name']), { message: /Error unsetting properties/ });
  t.equal(goValue(null), '<nil>');
});

t.test('--property on time fields: RFC 3339 in, Go time.String() out, zero time on unset', async (t) => {
  const snap = { expires_at: '2050-01-01T10:10:10.753398689-04:00', created_at: '2024-05-01T10:00:00Z', size: 42, name: 's1' };
  t.equal(getProperty(snap, INSTANCE_SNAPSHOT, 'expires_at'), '2050-01-01 10:10:10.753398689 -0400 -0400', 'a fixed zone prints its offset as its name');
  t.equal(getProperty(snap, INSTANCE_SNAPSHOT, 'created_at'), '2024-05-01 10:00:00 +0000 UTC');
  t.equal(getProperty(snap, INSTANCE_SNAPSHOT, 'size'), '42');
  const put = { expires_at: '0001-01-01T00:00:00Z' };
  setProperties(put, INSTANCE_SNAPSHOT_PUT, { expires_at: '2052-03-23T17:38:37.753398000+02:00' });
  t.equal(put.expires_at, '2052-03-23T17:38:37.753398+02:00', "kept in Go's RFC 3339 form, offset and all");
  t.throws(() => setProperties(put, INSTANCE_SNAPSHOT_PUT, { expires_at: 'tomorrow' }), { message: /^Error setting properties: parsing time "tomorrow"/ });
  t.throws(() => setProperties(put, INSTANCE_SNAPSHOT_PUT, { expires_at: '2052-13-40T00:00:00Z' }), { message: /parsing time/ }, 'not a real date');
  unsetProperties(put, INSTANCE_SNAPSHOT_PUT, ['expires_at']);
  t.equal(put.expires_at, '0001-01-01T00:00:00Z');
  const vsnap = { description: 'd', expires_at: '2052-03-23T17:38:37Z' };
  unsetProperties(vsnap, STORAGE_VOLUME_SNAPSHOT_PUT, ['description', 'expires_at']);
  t.same(vsnap, { description: '', expires_at: '0001-01-01T00:00:00Z' });
  t.throws(() => unsetProperties(vsnap, STORAGE_VOLUME_SNAPSHOT_PUT, ['nope'], 'Error unsetting property'), {
    message: 'Error unsetting property: The property with tag "nope" does not exist',
  });
});

t.test('INSTANCE/SNAPSHOT and [type/]volume[/snapshot] arguments', async (t) => {
  t.equal(snapshotRef('c1'), null);
  t.same(snapshotRef('c1/snap0'), { instance: 'c1', snapshot: 'snap0' });
  t.same(splitVolumePath('v1'), { type: 'custom', name: 'v1' });
  t.same(splitVolumePath('v1/snap0'), { type: 'custom', name: 'v1', snapshot: 'snap0' }, 'not a type: a snapshot');
  t.same(splitVolumePath('container/c1/s1'), { type: 'container', name: 'c1', snapshot: 's1' });
  t.same(splitVolumePath('virtual-machine/v1'), { type: 'virtual-machine', name: 'v1' });
});
