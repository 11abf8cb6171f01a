/**
 * YAML for `config`/`profile` show and edit: Go's field order on output,
 * Go's typing on input (strings keep their source text), errors that name
 * the line, and show -> decode round trips that change nothing.
 */
import t from 'tap';
import type { Instance } from '../../lib/api/instance';
import type { Profile } from '../../lib/api/profile';
import type { InstanceSnapshot } from '../../lib/api/instance-snapshot';
import {
  configShowText,
  devicesText,
  instanceEditText,
  profileEditText,
  profileText,
  putForWire,
  serverEditText,
  snapshotEditText,
  snapshotShowText,
} from '../../lib/cli/config-text';
import { instanceWritable, profileWritable, sameValue } from '../../lib/cli/writable';
import { decodeYaml, INSTANCE_PUT, INSTANCE_SNAPSHOT_PUT, PROFILE_PUT, SERVER_PUT } from '../../lib/cli/yaml-decode';

const inst: Instance = {
  name: 'c1',
  description: '',
  architecture: 'x86_64',
  config: { 'limits.cpu': '2', 'image.os': 'busybox', 'security.privileged': 'true', 'raw.lxc': 'lxc.a = 1\nlxc.b = 2\n' },
  devices: { data: { type: 'disk', source: '/srv', path: '/mnt' } },
  ephemeral: false,
  profiles: ['default'],
  stateful: false,
  created_at: '2024-05-01T10:00:00.123Z',
  last_used_at: '1970-01-01T00:00:00Z',
  expanded_config: { 'limits.cpu': '2', 'image.os': 'busybox', 'limits.memory': '1GiB' },
  expanded_devices: { root: { type: 'disk', path: '/', pool: 'default' }, data: { type: 'disk', source: '/srv', path: '/mnt' } },
  status: 'Stopped',
  status_code: 102,
  location: 'none',
  type: 'container',
  project: 'default',
};

t.test('config show: the writable part in Go order, sorted maps, quoted ambiguous strings', async (t) => {
  t.equal(
    configShowText(inst, false),
    [
      'architecture: x86_64',
      'config:',
      '  image.os: busybox',
      '  limits.cpu: "2"',
      '  raw.lxc: |',
      '    lxc.a = 1',
      '    lxc.b = 2',
      '  security.privileged: "true"',
      'devices:',
      '  data:',
      '    path: /mnt',
      '    source: /srv',
      '    type: disk',
      'ephemeral: false',
      'profiles:',
      '- default',
      'stateful: false',
      'description: ""',
      '',
    ].join('\n'),
  );
  const expanded = configShowText(inst, true);
  t.match(expanded, /limits\.memory: 1GiB/, '--expanded shows profile keys');
  t.match(expanded, /  root:\n    path: \/\n    pool: default\n    type: disk/, 'and profile devices');
});

t.test('config edit text round-trips to the same PUT', async (t) => {
  const text = instanceEditText(inst);
  t.match(text, /^### /, 'starts with the help header');
  t.notMatch(text, /expanded_/, 'no expanded fields to edit');
  t.match(text, /\nname: c1\n/);
  const put = decodeYaml<Record<string, unknown>>(text, INSTANCE_PUT);
  const current = instanceWritable(inst);
  for (const f of Object.keys(INSTANCE_PUT.fields)) t.ok(sameValue(put[f], (current as unknown as Record<string, unknown>)[f]), `${f} unchanged`);
  t.same(putForWire(put as never), { ...current }, 'restore is left out when empty');
});

t.test('decoding follows the Go struct: types, zero values, unknown fields', async (t) => {
  const put = decodeYaml<Record<string, unknown>>(
    [
      'config:',
      '  limits.cpu: 2',
      '  limits.cpu.allowance: 1.50',
      '  security.nesting: true',
      '  user.empty:',
      '  user.null: null',
      '  user.hex: 0x10',
      '  user.quoted: "007"',
      'devices:',
      '  d: {type: disk, readonly: yes}',
      'ephemeral: yes',
      'profiles: [default, p1]',
      'name: ignored',
      'status: ignored too',
    ].join('\n'),
    INSTANCE_PUT,
  );
  t.same(put.config, {
    'limits.cpu': '2',
    'limits.cpu.allowance': '1.50',
    'security.nesting': 'true',
    'user.empty': '',
    'user.null': '',
    'user.hex': '0x10',
    'user.quoted': '007',
  });
  t.same(put.devices, { d: { type: 'disk', readonly: 'yes' } });
  t.equal(put.ephemeral, true);
  t.same(put.profiles, ['default', 'p1']);
  t.equal(put.architecture, '', 'absent fields take their zero value');
  t.equal(put.stateful, false);
  t.notOk('name' in put, 'unknown fields are ignored');
  t.same(decodeYaml('', PROFILE_PUT), { config: {}, description: '', devices: {} }, 'empty text is all zero values');
  t.same(decodeYaml('# just a comment\n', SERVER_PUT), { config: {} });
});

t.test('decoding errors name the line and the Go type', async (t) => {
  t.throws(() => decodeYaml('config:\n  - a\n', INSTANCE_PUT), { message: 'yaml: unmarshal errors:\n  line 2: cannot unmarshal !!seq into map[string]string' });
  t.throws(() => decodeYaml('ephemeral: maybe\n', INSTANCE_PUT), { message: /line 1: cannot unmarshal !!str `maybe` into bool/ });
  t.throws(() => decodeYaml('devices:\n  d: 1\n', INSTANCE_PUT), { message: /line 2: cannot unmarshal !!int `1` into map\[string\]string/ });
  t.throws(() => decodeYaml('- a\n', PROFILE_PUT), { message: /cannot unmarshal !!seq into api.ProfilePut/ });
  t.throws(() => decodeYaml('config: {a: 1\n', PROFILE_PUT), { message: /^yaml: .*line \d+, column \d+$/ });
  t.throws(() => decodeYaml('config:\n  a: 1\n  a: 2\n', PROFILE_PUT), { message: /^yaml: Map keys must be unique/ });
});

t.test('profile and server texts', async (t) => {
  const profile: Profile = {
    name: 'p1',
    description: 'small',
    config: { 'limits.memory': '64MiB' },
    devices: {},
    used_by: [],
    project: 'default',
  };
  t.equal(
    profileText(profile),
    'config:\n  limits.memory: 64MiB\ndescription: small\ndevices: {}\nname: p1\nused_by: []\nproject: default\n',
  );
  const edited = decodeYaml<Record<string, unknown>>(profileEditText(profile), PROFILE_PUT);
  t.same(edited, profileWritable(profile), 'profile edit text decodes to the same PUT');
  t.equal(serverEditText({}), 'config: {}\n');
  t.same(decodeYaml(serverEditText({ 'user.a': 'true' }), SERVER_PUT), { config: { 'user.a': 'true' } });
  t.equal(devicesText({}), '{}\n');
  t.equal(devicesText({ b: { type: 'none' }, a: { type: 'disk', path: '/x', source: '/y' } }), 'a:\n  path: /x\n  source: /y\n  type: disk\nb:\n  type: none\n');
});

t.test('snapshot texts: the whole struct in Go order, expanded maps swapped in on request; the edit decodes expires_at', async (t) => {
  const snap: InstanceSnapshot = {
    name: 's1',
    architecture: 'x86_64',
    config: { 'limits.cpu': '1' },
    created_at: '2024-05-01T10:00:00Z',
    description: '',
    devices: {},
    ephemeral: false,
    expanded_config: { 'limits.cpu': '1', 'user.p': 'x' },
    expanded_devices: {},
    expires_at: '2050-01-01T10:10:10.753398689-04:00',
    last_used_at: '0001-01-01T00:00:00Z',
    profiles: ['default'],
    stateful: false,
    size: -1,
  };
  const shown = snapshotShowText(snap, false);
  t.match(shown, /^expires_at: 2050-01-01T10:10:10.753398689-04:00\narchitecture: x86_64\nconfig:/, 'the inlined put comes first');
  t.match(shown, /expanded_config:\n {2}limits.cpu: "1"\n {2}user.p: x\n/);
  t.notMatch(shown, /expanded_devices/, 'an empty map is left out (omitempty)');
  t.match(snapshotShowText(snap, true), /^config:\n {2}limits.cpu: "1"\n {2}user.p: x$/m, '--expanded');
  const edit = snapshotEditText(snap);
  t.notMatch(edit, /expanded_config/);
  t.same(decodeYaml(edit, INSTANCE_SNAPSHOT_PUT), { expires_at: '2050-01-01T10:10:10.753398689-04:00' }, 'round trip');
  t.same(decodeYaml('', INSTANCE_SNAPSHOT_PUT), { expires_at: '0001-01-01T00:00:00Z' }, "absent: Go's zero time");
  t.throws(() => decodeYaml('expires_at: [1]', INSTANCE_SNAPSHOT_PUT), { message: /cannot unmarshal !!seq into time.Time/ });
});

t.test('sameValue: omitempty and nil-vs-empty are the same', async (t) => {
  t.ok(sameValue({}, undefined));
  t.ok(sameValue([], null));
  t.ok(sameValue('', undefined));
  t.ok(sameValue({ a: { b: '1' } }, { a: { b: '1' } }));
  t.notOk(sameValue({ a: { b: '1' } }, { a: { b: '2' } }));
  t.notOk(sameValue(['a', 'b'], ['b', 'a']), 'list order matters');
  t.notOk(sameValue(false, true));
});
