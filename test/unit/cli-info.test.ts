/** Text output of `info`, `image info`, image/alias columns and the small message helpers. */
import t from 'tap';
import type { Image } from '../../lib/api/image';
import type { InstanceFull } from '../../lib/api/instance';
import type { Server } from '../../lib/api/server';
import { parseAliasColumns } from '../../lib/cli/commands/image-alias';
import { imageMatches, parseImageColumns, renderImageInfo } from '../../lib/cli/commands/image';
import { filterServer, isConfigKeySensitive, renderInstanceInfo } from '../../lib/cli/commands/info';
import { resetZoneCache } from '../../lib/cli/format/tz';
import { noNetworkWarning, withShowLogHint } from '../../lib/cli/hints';
import { collect, parseIntOption } from '../../lib/cli/option-parsers';

const savedTz = process.env.TZ;
process.env.TZ = 'UTC';
resetZoneCache();
t.teardown(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
  resetZoneCache();
});

const FP = 'd9c68d3352d77b45cc640cfc578e04da890efdd61de344550125667aea738123';

function image(over: Partial<Image> = {}): Image {
  return {
    auto_update: false,
    properties: { os: 'busybox', description: 'Busybox 1.35', architecture: 'x86_64' },
    public: false,
    expires_at: '0001-01-01T00:00:00Z',
    profiles: ['default'],
    aliases: [
      { name: 'busybox', description: '' },
      { name: 'bb', description: 'short' },
    ],
    architecture: 'x86_64',
    cached: false,
    filename: 'busybox.tar.xz',
    fingerprint: FP,
    size: 1036775,
    type: 'container',
    created_at: '2024-05-01T10:00:00Z',
    last_used_at: '0001-01-01T00:00:00Z',
    uploaded_at: '2024-05-02T11:30:00Z',
    project: 'default',
    ...over,
  };
}

t.test('image list columns', async (t) => {
  const cols = parseImageColumns('lfpdatsu');
  t.same(
    cols.map(([n]) => n),
    ['ALIAS', 'FINGERPRINT', 'PUBLIC', 'DESCRIPTION', 'ARCHITECTURE', 'TYPE', 'SIZE', 'UPLOAD DATE'],
  );
  t.same(
    cols.map(([, d]) => d(image())),
    ['bb (1 more)', 'd9c68d3352d7', 'no', 'Busybox 1.35', 'x86_64', 'CONTAINER', '0.99MiB', '2024/05/02 11:30 UTC'],
  );
  t.same(
    parseImageColumns('L,properties:os').map(([n, d]) => [n, d(image())]),
    [
      ['ALIASES', 'bb\nbusybox'],
      ['OS', 'busybox'],
    ],
  );
  t.throws(() => parseImageColumns('lz'), { message: "Unknown column shorthand char 'z' in 'lz'" });
  t.throws(() => parseImageColumns('properties:'), { message: "Empty property name in 'properties:'" });
});

t.test('image list filters', async (t) => {
  t.ok(imageMatches(image(), 'busy'), 'alias substring');
  t.ok(imageMatches(image(), 'c68d'), 'fingerprint substring');
  t.ok(imageMatches(image(), 'os=busybox'));
  t.ok(imageMatches(image(), 'os=busy.*'));
  t.notOk(imageMatches(image(), 'os=busy'));
  t.ok(imageMatches(image(), 'architecture=x86_64'));
  t.notOk(imageMatches(image(), 'nomatch'));
});

t.test('image alias columns', async (t) => {
  const alias = { name: 'busybox', target: FP, type: '', description: 'd' };
  t.same(
    parseAliasColumns('aftd').map(([n, d]) => [n, d(alias)]),
    [
      ['ALIAS', 'busybox'],
      ['FINGERPRINT', 'd9c68d3352d7'],
      ['TYPE', 'CONTAINER'],
      ['DESCRIPTION', 'd'],
    ],
  );
});

t.test('image info text', async (t) => {
  t.equal(
    renderImageInfo(image()),
    [
      `Fingerprint: ${FP}`,
      'Size: 0.99MiB',
      'Architecture: x86_64',
      'Type: container',
      'Public: no',
      'Timestamps:',
      '    Created: 2024/05/01 10:00 UTC',
      '    Uploaded: 2024/05/02 11:30 UTC',
      '    Expires: never',
      '    Last used: never',
      'Properties:',
      '    architecture: x86_64',
      '    description: Busybox 1.35',
      '    os: busybox',
      'Aliases:',
      '    - busybox',
      '    - bb (short)',
      'Cached: no',
      'Auto update: disabled',
      'Profiles:',
      '    - default',
      '',
    ].join('\n'),
  );
  t.match(renderImageInfo(image({ profiles: [] })), /\nProfiles: \[\]\n$/);
});

function instance(over: Partial<InstanceFull> = {}): InstanceFull {
  return {
    architecture: 'x86_64',
    config: {},
    devices: {},
    ephemeral: false,
    profiles: ['default'],
    stateful: false,
    description: '',
    created_at: '2024-05-01T10:00:00Z',
    expanded_config: {},
    expanded_devices: {},
    name: 'c1',
    status: 'Running',
    status_code: 103,
    last_used_at: '2024-05-01T10:01:00Z',
    location: 'none',
    type: 'container',
    project: 'default',
    state: {
      status: 'Running',
      status_code: 103,
      disk: { root: { usage: 0, total: 0 } },
      memory: { usage: 274432, usage_peak: 692224, total: 0, swap_usage: 0, swap_usage_peak: 0 },
      network: null,
      pid: 30337,
      processes: 1,
      cpu: { usage: 2_400_000_000, allocated_time: 0 },
      started_at: '2024-05-01T10:01:00Z',
      os_info: null,
    },
    snapshots: null,
    backups: null,
    ...over,
  };
}

t.test('instance info text: running', async (t) => {
  t.equal(
    renderInstanceInfo(instance()),
    [
      'Name: c1',
      'Description: ',
      'Status: RUNNING',
      'Type: container',
      'Architecture: x86_64',
      'PID: 30337',
      'Created: 2024/05/01 10:00 UTC',
      'Last Used: 2024/05/01 10:01 UTC',
      'Started: 2024/05/01 10:01 UTC',
      '',
      'Resources:',
      '  Processes: 1',
      '  CPU usage:',
      '    CPU usage (in seconds): 2',
      '  Memory usage:',
      '    Memory (current): 268.00KiB',
      '    Memory (peak): 676.00KiB',
      '',
    ].join('\n'),
  );
});

t.test('instance info text: stopped and ephemeral, with a snapshot table', async (t) => {
  const stopped = instance({
    status: 'Stopped',
    status_code: 102,
    ephemeral: true,
    state: { ...instance().state!, pid: 0, status: 'Stopped', status_code: 102 },
    snapshots: [{ name: 'snap0', created_at: '2024-05-03T00:00:00Z', expires_at: '0001-01-01T00:00:00Z', stateful: false }],
  });
  t.equal(
    renderInstanceInfo(stopped),
    [
      'Name: c1',
      'Description: ',
      'Status: STOPPED',
      'Type: container (ephemeral)',
      'Architecture: x86_64',
      'Created: 2024/05/01 10:00 UTC',
      'Last Used: 2024/05/01 10:01 UTC',
      '',
      'Snapshots:',
      '+-------+----------------------+------------+----------+',
      '| Name  |       Taken at       | Expires at | Stateful |',
      '+-------+----------------------+------------+----------+',
      '| snap0 | 2024/05/03 00:00 UTC |            | NO       |',
      '+-------+----------------------+------------+----------+',
      '',
    ].join('\n'),
  );
});

t.test('server info is filtered like Incus', async (t) => {
  const server = {
    config: { 'core.https_address': ':8443', 'core.trust_password': 'x', 'oidc.client.id': 'id', 'acme.agree_tos': '' },
    api_extensions: ['a', 'b', 'c'],
    api_status: 'stable',
    api_version: '1.0',
    environment: { certificate: 'PEM...', certificate_fingerprint: 'abc' },
  } as unknown as Server;
  const out = filterServer(server);
  t.same(out.config, {
    'core.https_address': ':8443',
    'core.trust_password': 'SENSITIVE',
    'oidc.client.id': 'SENSITIVE',
    'acme.agree_tos': '',
  });
  t.equal(out.api_extensions, undefined);
  t.equal(out.api_extensions_count, 3);
  t.same(out.environment, { certificate: '', certificate_fingerprint: 'abc' });
  t.ok(isConfigKeySensitive('loki.auth.password'));
  t.notOk(isConfigKeySensitive('core.https_address'));
});

t.test('message helpers and option parsers', async (t) => {
  t.equal(
    withShowLogHint(new Error('Failed to start'), 'c1', 'default').message,
    'Failed to start\nTry `incus info --show-log c1` for more info',
  );
  t.equal(
    withShowLogHint(new Error('x'), 'c1', 'p1').message,
    'x\nTry `incus info --show-log c1 --project p1` for more info',
  );
  t.equal(noNetworkWarning({ expanded_devices: { eth0: { type: 'nic' } } }), '');
  t.match(noNetworkWarning({ expanded_devices: { root: { type: 'disk' } } }), /doesn't have any network attached/);
  t.same(collect('b', collect('a', undefined)), ['a', 'b']);
  t.equal(parseIntOption('-1'), -1);
  t.equal(parseIntOption('30'), 30);
  t.throws(() => parseIntOption('3s'));
});
