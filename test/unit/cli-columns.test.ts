import t from 'tap';
import type { InstanceFull } from '../../lib/api/instance';
import type { InstanceState } from '../../lib/api/instance-state';
import { parseColumns } from '../../lib/cli/list-columns';
import { dotPrefixMatch, filtersNeedState, matchesAll, matchesFilter } from '../../lib/cli/list-filter';

function state(over: Partial<InstanceState> = {}): InstanceState {
  return {
    status: 'Running',
    status_code: 103,
    disk: { root: { usage: 2 * 1024 * 1024, total: 0 } },
    memory: { usage: 1536 * 1024, usage_peak: 0, total: 0, swap_usage: 0, swap_usage_peak: 0 },
    network: {
      lo: {
        type: 'loopback',
        addresses: [{ family: 'inet', address: '127.0.0.1', netmask: '8', scope: 'local' }],
        counters: {},
        hwaddr: '',
        host_name: '',
        mtu: 65536,
        state: 'up',
      },
      eth0: {
        type: 'broadcast',
        addresses: [
          { family: 'inet', address: '10.0.0.2', netmask: '24', scope: 'global' },
          { family: 'inet', address: '10.0.0.9', netmask: '24', scope: 'global' },
          { family: 'inet6', address: 'fd42::2', netmask: '64', scope: 'global' },
          { family: 'inet6', address: 'fe80::1', netmask: '64', scope: 'link' },
        ],
        counters: {},
        hwaddr: '00:16:3e:00:00:01',
        host_name: 'veth1',
        mtu: 1500,
        state: 'up',
      },
    },
    pid: 4242,
    processes: 7,
    cpu: { usage: 3_500_000_000, allocated_time: 0 },
    started_at: '2024-01-01T00:00:00Z',
    os_info: null,
    ...over,
  };
}

function inst(over: Partial<InstanceFull> = {}): InstanceFull {
  return {
    architecture: 'x86_64',
    config: { 'user.foo': 'bar', 'volatile.base_image': 'abcdef0123456789' },
    devices: {},
    ephemeral: false,
    profiles: ['default', 'extra'],
    stateful: false,
    description: 'test box',
    created_at: '2024-01-01T00:00:00Z',
    expanded_config: { 'user.foo': 'bar', 'limits.cpu': '2', 'volatile.base_image': 'abcdef0123456789' },
    expanded_devices: { root: { type: 'disk', path: '/', pool: 'default' }, eth0: { type: 'nic', name: 'eth0', parent: 'br0' } },
    name: 'web01',
    status: 'Running',
    status_code: 103,
    last_used_at: '0001-01-01T00:00:00Z',
    location: 'none',
    type: 'container',
    project: 'default',
    state: state(),
    snapshots: [{}, {}],
    backups: null,
    ...over,
  };
}

function cells(spec: string, i: InstanceFull, raw = false): Record<string, string> {
  const { columns } = parseColumns(spec, true);
  return Object.fromEntries(columns.map((c) => [c.name, c.data(i, { raw })]));
}

t.test('default columns: L dropped when not clustered, data needed for 4/6/S', async (t) => {
  const parsed = parseColumns('ns46tSL', false);
  t.same(
    parsed.columns.map((c) => c.name),
    ['NAME', 'STATE', 'IPV4', 'IPV6', 'TYPE', 'SNAPSHOTS'],
  );
  t.ok(parsed.needsData);
  t.same(
    parseColumns('ns46tSL', true).columns.map((c) => c.name),
    ['NAME', 'STATE', 'IPV4', 'IPV6', 'TYPE', 'SNAPSHOTS', 'LOCATION'],
  );
  t.notOk(parseColumns('nsacPt', false).needsData, 'the fast layout needs no state');
  t.same(
    parseColumns('n,s', false).columns.map((c) => c.name),
    ['NAME', 'STATE'],
    'commas between letters are optional',
  );
});

t.test('column errors use Incus messages', async (t) => {
  t.throws(() => parseColumns('nsX', false), { message: "Unknown column shorthand char 'X' in 'nsX'" });
  t.throws(() => parseColumns('nL', false), { message: "Can't specify column L when not clustered" });
  t.throws(() => parseColumns('n,,s', false), {
    message: "Empty column entry (redundant, leading or trailing command) in 'n,,s'",
  });
  t.throws(() => parseColumns('user.a:b:c:d', false), { message: "Invalid config key column format (too many fields): 'user.a:b:c:d'" });
  t.throws(() => parseColumns('user.a::', false), { message: "Invalid max width (must be an integer) '' in 'user.a::'" });
  t.throws(() => parseColumns('user.a:X:-2', false), {
    message: "Invalid max width (must -1, 0 or a positive integer) '-2' in 'user.a:X:-2'",
  });
});

t.test('shorthand column data', async (t) => {
  const c = cells('ns46tSpNPfFabdemuD', inst());
  t.equal(c.NAME, 'web01');
  t.equal(c.STATE, 'RUNNING');
  t.equal(c.IPV4, '10.0.0.9 (eth0)\n10.0.0.2 (eth0)', 'loopback and local scope skipped, reverse sorted');
  t.equal(c.IPV6, 'fd42::2 (eth0)', 'link scope skipped');
  t.equal(c.TYPE, 'CONTAINER');
  t.equal(c.SNAPSHOTS, '2');
  t.equal(c.PID, '4242');
  t.equal(c.PROCESSES, '7');
  t.equal(c.PROFILES, 'default\nextra');
  t.equal(c['BASE IMAGE'], 'abcdef0123456789', 'F overwrites f: both named BASE IMAGE');
  t.equal(c.ARCHITECTURE, 'x86_64');
  t.equal(c['STORAGE POOL'], 'default');
  t.equal(c.DESCRIPTION, 'test box');
  t.equal(c.PROJECT, 'default');
  t.equal(c['MEMORY USAGE'], '1.50MiB');
  t.equal(c['CPU USAGE'], '3s');
  t.equal(c['DISK USAGE'], '2.00MiB');
  t.equal(cells('m', inst(), true)['MEMORY USAGE'], String(1536 * 1024), 'raw format gives bytes');
  t.equal(cells('f', inst())['BASE IMAGE'], 'abcdef012345');
  t.equal(cells('l', inst())['LAST USED AT'], '', 'zero time prints nothing');
});

t.test('stopped instances show no runtime data; type suffixes', async (t) => {
  const stopped = inst({ status: 'Stopped', status_code: 102, state: state({ pid: 0 }), snapshots: null, ephemeral: true });
  const c = cells('s4pNtS', stopped);
  t.equal(c.STATE, 'STOPPED');
  t.equal(c.IPV4, '');
  t.equal(c.PID, '');
  t.equal(c.PROCESSES, '');
  t.equal(c.TYPE, 'CONTAINER (EPHEMERAL)');
  t.equal(c.SNAPSHOTS, '0');
  const oci = inst({ expanded_config: { 'volatile.container.oci': 'true' }, type: 'virtual-machine' });
  t.equal(cells('t', oci).TYPE, 'VIRTUAL-MACHINE (APP)');
});

t.test('custom columns: config and devices keys, names, widths', async (t) => {
  const i = inst();
  t.same(cells('user.foo', i), { 'user.foo': 'bar' });
  t.same(cells('limits.cpu:CPUS', i), { CPUS: '2' }, 'falls back to expanded_config');
  t.same(cells('volatile.base_image:IMG:6', i), { IMG: 'abcdef' });
  t.same(cells('volatile.base_image:IMG:0', i), { IMG: 'abc' }, 'width 0 means the header width');
  t.same(cells('devices:eth0.parent:ETHP', i), { ETHP: 'br0' });
  t.same(cells('config:user.foo', i), { 'user.foo': 'bar' });
});

t.test('filters: names, fields, config keys, addresses', async (t) => {
  const i = inst();
  t.ok(matchesFilter(i, 'web'), 'name prefix');
  t.ok(matchesFilter(i, 'web01'));
  t.ok(matchesFilter(i, '.*01$'), 'name regex');
  t.notOk(matchesFilter(i, 'db'));
  t.ok(matchesFilter(i, 'type=container'));
  t.ok(matchesFilter(i, 'status=running'), 'case-insensitive field');
  t.ok(matchesFilter(i, 'state=Running'), 'state means status');
  t.notOk(matchesFilter(i, 'status=stopped'));
  t.ok(matchesFilter(i, 'user.foo=bar'));
  t.ok(matchesFilter(i, 'u.foo=bar'), 'abbreviated namespace');
  t.ok(matchesFilter(i, 'user.foo=b.*'), 'value regex');
  t.notOk(matchesFilter(i, 'user.foo=ba'), 'anchored');
  t.ok(matchesFilter(i, 'limits.cpu=2'), 'expanded config');
  t.ok(matchesFilter(i, 'ipv4=10.0.0.2'));
  t.ok(matchesFilter(i, 'ipv4=10.0.0.0/24'));
  t.notOk(matchesFilter(i, 'ipv4=192.168.0.0/16'));
  t.ok(matchesFilter(i, 'ipv4=192.168.0.1,10.0.0.9'), 'comma means any');
  t.ok(matchesFilter(i, 'ipv6=fd42::/16'));
  t.ok(matchesAll(i, ['type=container', 'status=running']));
  t.notOk(matchesAll(i, ['type=container', 'status=stopped']));
  t.ok(filtersNeedState(['web', 'IPv4=10.0.0.1']));
  t.notOk(filtersNeedState(['type=container']));
  t.ok(dotPrefixMatch('s.priv', 'security.privileged'));
  t.notOk(dotPrefixMatch('s', 'security.privileged'));
});
