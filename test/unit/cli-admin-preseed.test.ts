/** `admin init --preseed`: YAML decoding, the order of API calls, merge rules and error wording; `--dump` layout. */
import t from 'tap';
import { applyPreseed, type PreseedApi } from '../../lib/cli/preseed-apply';
import { decodePreseed } from '../../lib/cli/preseed-decode';
import { formatPreseedDump } from '../../lib/cli/preseed-dump';

interface FakeState {
  server: Record<string, string>;
  pools: Record<string, { driver: string; description: string; config: Record<string, string> }>;
  networks: Record<string, { managed: boolean; description: string; config: Record<string, string> }>;
  projects: Record<string, { description: string; config: Record<string, string> }>;
  profiles: Record<string, { description: string; config: Record<string, string>; devices: Record<string, Record<string, string>> }>;
  volumes?: Record<string, { type: string; description: string; config: Record<string, string> }>;
}

/** A recording fake: every call is logged as `verb target`. */
function fake(state: FakeState, failOn?: string): { api: PreseedApi; calls: string[] } {
  const calls: string[] = [];
  const log = (c: string) => {
    calls.push(c);
    if (c === failOn) throw new Error('boom');
  };
  const api: PreseedApi = {
    getServerConfig: async () => ({ config: { ...state.server }, etag: 'e' }),
    updateServerConfig: async (config) => {
      log('update server');
      state.server = config;
    },
    getPoolNames: async () => Object.keys(state.pools),
    getPool: async (name) => ({ ...state.pools[name]!, etag: 'e' }),
    createPool: async (p) => {
      log(`create pool ${p.name}`);
      state.pools[p.name] = { driver: p.driver, description: p.description, config: p.config };
    },
    updatePool: async (name, put) => {
      log(`update pool ${name}`);
      state.pools[name] = { ...state.pools[name]!, ...put };
    },
    getNetwork: async (project, name) => {
      const n = state.networks[`${project}/${name}`];
      return n ? { ...n, etag: 'e' } : null;
    },
    createNetwork: async (n) => {
      log(`create network ${n.project}/${n.name}`);
      state.networks[`${n.project}/${n.name}`] = { managed: true, description: n.description, config: n.config };
    },
    updateNetwork: async (project, name, put) => {
      log(`update network ${project}/${name}`);
      state.networks[`${project}/${name}`] = { managed: true, ...put };
    },
    getProjectNames: async () => Object.keys(state.projects),
    getProject: async (name) => ({ ...state.projects[name]!, etag: 'e' }),
    createProject: async (p) => {
      log(`create project ${p.name}`);
      state.projects[p.name] = { description: p.description, config: p.config };
    },
    updateProject: async (name, put) => {
      log(`update project ${name}`);
      state.projects[name] = put;
    },
    getVolume: async (project, pool, _type, name) => {
      const v = (state.volumes ?? {})[`${project}/${pool}/${name}`];
      return v ? { ...v, etag: 'e' } : null;
    },
    createVolume: async (v) => {
      log(`create volume ${v.project}/${v.pool}/${v.type}/${v.name}`);
      state.volumes = { ...state.volumes, [`${v.project}/${v.pool}/${v.name}`]: { type: v.type, description: v.description, config: v.config } };
    },
    updateVolume: async (project, pool, type, name, put) => {
      log(`update volume ${project}/${pool}/${type}/${name}`);
      state.volumes![`${project}/${pool}/${name}`] = { type, ...put };
    },
    getProfile: async (project, name) => {
      const p = state.profiles[`${project}/${name}`];
      return p ? { ...p, etag: 'e' } : null;
    },
    createProfile: async (p) => {
      log(`create profile ${p.project}/${p.name}`);
      state.profiles[`${p.project}/${p.name}`] = { description: p.description, config: p.config, devices: p.devices };
    },
    updateProfile: async (project, name, put) => {
      log(`update profile ${project}/${name}`);
      state.profiles[`${project}/${name}`] = put;
    },
  };
  return { api, calls };
}

const fresh = (): FakeState => ({
  server: { 'core.https_address': ':8443' },
  pools: {},
  networks: { 'default/eth0': { managed: false, description: '', config: {} } },
  projects: { default: { description: 'Default Incus project', config: { 'features.images': 'true' } } },
  profiles: { 'default/default': { description: 'Default Incus profile', config: {}, devices: { eth0: { type: 'nic', network: 'x', name: 'eth0' } } } },
});

const PRESEED = `
profiles:
- name: default
  devices:
    root: {type: disk, path: /, pool: data}
    eth0: {network: br1}
- name: web
  project: p1
  config: {limits.cpu: 2}
networks:
- name: br2
  project: p1
  type: bridge
- name: br1
  config:
    ipv4.address: 10.0.3.1/24
- name: eth0
  type: physical
projects:
- name: p1
  config:
    limits.instances: 5
- name: default
  config:
    features.images: false
storage_pools:
- name: data
  driver: dir
storage_volumes:
- name: vol1
  pool: data
  config: {size: 1GiB}
- name: vol2
  pool: data
  project: p1
  type: custom
config:
  images.auto_update_interval: 15
  core.trust_password: 007
`;

t.test('applies in Incus order: config, pools, default networks, projects, other networks, volumes, profiles', async (t) => {
  const state = fresh();
  const { api, calls } = fake(state);
  await applyPreseed(api, decodePreseed(PRESEED));
  t.same(calls, [
    'update server',
    'create pool data',
    'create network default/br1',
    'create network default/eth0',
    'create project p1',
    'update project default',
    'create network p1/br2',
    'create volume default/data/custom/vol1',
    'create volume p1/data/custom/vol2',
    'update profile default/default',
    'create profile p1/web',
  ]);
  t.same(state.server, { 'core.https_address': ':8443', 'images.auto_update_interval': '15', 'core.trust_password': '007' }, 'server config merged, scalars keep their text');
  t.same(state.projects.p1!.config, { 'limits.instances': '5' });
  t.same(state.projects.default!.config, { 'features.images': 'false' }, 'existing project config merged');
  t.equal(state.projects.default!.description, 'Default Incus project', 'an empty description keeps the current one');
  t.same(
    state.profiles['default/default']!.devices,
    { eth0: { type: 'nic', network: 'br1', name: 'eth0' }, root: { type: 'disk', path: '/', pool: 'data' } },
    'devices merged key by key',
  );
  t.same(state.networks['default/br1']!.config, { 'ipv4.address': '10.0.3.1/24' });
});

t.test('existing items are updated; a pool of another driver is refused by name', async (t) => {
  const state = fresh();
  state.pools.data = { driver: 'dir', description: 'old', config: { source: '/x' } };
  const { api, calls } = fake(state);
  await applyPreseed(api, decodePreseed('storage_pools:\n- name: data\n  driver: dir\n  description: new\n'));
  t.same(calls, ['update pool data']);
  t.same(state.pools.data, { driver: 'dir', description: 'new', config: { source: '/x' } });
  await t.rejects(applyPreseed(api, decodePreseed('storage_pools:\n- name: data\n  driver: zfs\n')), {
    message: 'Storage pool "data" is of type "dir" instead of "zfs"',
  });
});

t.test('an existing volume is updated; one of another type is refused by name', async (t) => {
  const state = fresh();
  state.volumes = { 'default/data/v': { type: 'custom', description: 'old', config: { size: '1GiB' } } };
  const { api, calls } = fake(state);
  await applyPreseed(api, decodePreseed('storage_volumes:\n- name: v\n  pool: data\n  config: {user.a: b}\n'));
  t.same(calls, ['update volume default/data/custom/v']);
  t.same(state.volumes['default/data/v'], { type: 'custom', description: 'old', config: { size: '1GiB', 'user.a': 'b' } });
  await t.rejects(applyPreseed(api, decodePreseed('storage_volumes:\n- name: v\n  pool: data\n  type: container\n')), {
    message: 'Storage volume "v" in project "default" is of type "custom" instead of "container"',
  });
  t.throws(() => decodePreseed('storage_volumes:\n- pool: data\n'), /storage_volumes entry 0 is missing its name/);
});

t.test('a failing step names the item and stops there', async (t) => {
  const { api, calls } = fake(fresh(), 'create project p1');
  await t.rejects(applyPreseed(api, decodePreseed(PRESEED)), { message: 'Failed to create local member project "p1": boom' });
  t.equal(calls.at(-1), 'create project p1', 'nothing after the failure');
  const net = fake(fresh(), 'create network default/br1');
  await t.rejects(applyPreseed(net.api, decodePreseed(PRESEED)), { message: 'Failed to create local member network "br1" in project "default": boom' });
  const prof = fake(fresh(), 'update profile default/default');
  await t.rejects(applyPreseed(prof.api, decodePreseed(PRESEED)), { message: 'Failed to update profile "default" in project "default": boom' });
  const pool = fake(fresh(), 'create pool data');
  await t.rejects(applyPreseed(pool.api, decodePreseed(PRESEED)), { message: 'Failed to create storage pool "data": boom' });
});

t.test('an empty preseed makes no calls', async (t) => {
  const { api, calls } = fake(fresh());
  await applyPreseed(api, decodePreseed(''));
  await applyPreseed(api, decodePreseed('# nothing\n'));
  t.same(calls, []);
});

t.test('decoding errors', async (t) => {
  t.throws(() => decodePreseed('bogus: 1\n'), { message: 'Failed to parse the preseed: yaml: unmarshal errors:\n  line 1: field bogus not found in type api.InitPreseed' });
  t.throws(() => decodePreseed('profiles:\n- name: a\n  device: {}\n'), {
    message: 'Failed to parse the preseed: yaml: unmarshal errors:\n  line 3: field device not found in type api.InitProfileProjectPost',
  });
  t.throws(() => decodePreseed('config: [a]\n'), { message: /line 1: cannot unmarshal a non-mapping into map\[string\]string/ });
  t.throws(() => decodePreseed('storage_pools: {name: a}\n'), { message: /line 1: cannot unmarshal a non-sequence/ });
  t.throws(() => decodePreseed('config: {a: 1\n'), { message: /^Failed to parse the preseed: yaml: / });
  t.throws(() => decodePreseed('config:\n  a: 1\n  a: 2\n'), { message: /^Failed to parse the preseed: yaml: / });
  t.throws(() => decodePreseed('storage_pools:\n- driver: dir\n'), { message: 'Failed to parse the preseed: storage_pools entry 0 is missing its name' });
  t.throws(() => decodePreseed('storage_pools:\n- name: a\n'), { message: 'Failed to parse the preseed: storage pool "a" is missing its driver' });
  t.throws(() => decodePreseed('certificates:\n- name: v\n'), { message: /line 2: certificates is not supported/ });
  t.same(decodePreseed('cluster:\n  enabled: true\n  server_address: 10.0.0.2:8443\n  cluster_token: abc\n').cluster, {
    server_name: '',
    enabled: true,
    cluster_address: '',
    cluster_certificate: '',
    server_address: '10.0.0.2:8443',
    cluster_token: 'abc',
    cluster_certificate_path: '',
  }, 'a cluster section is decoded');
  t.throws(() => decodePreseed('cluster:\n  member_config:\n  - entity: storage-pool\n'), { message: /member_config is not supported/ });
  t.same(decodePreseed('storage_volumes: []\ncertificates: []\ncluster_groups: []\ncluster: null\n').storage_pools, [], 'a dump\'s empty sections are accepted');
});

t.test('dump: struct fields in order, map keys sorted, yaml.v2 list layout', async (t) => {
  const text = formatPreseedDump({
    config: { 'z.key': '1', 'a.key': 'true' },
    networks: [],
    storage_pools: [{ config: { source: '/s' }, description: '', name: 'default', driver: 'dir' }],
    storage_volumes: [],
    profiles: [{ config: {}, description: 'P', devices: { root: { type: 'disk', pool: 'default', path: '/' } }, name: 'default', project: '' }],
    projects: [],
    certificates: [],
    cluster_groups: [],
  });
  t.equal(
    text,
    [
      'config:',
      '  a.key: "true"',
      '  z.key: "1"',
      'networks: []',
      'storage_pools:',
      '- config:',
      '    source: /s',
      '  description: ""',
      '  name: default',
      '  driver: dir',
      'storage_volumes: []',
      'profiles:',
      '- config: {}',
      '  description: P',
      '  devices:',
      '    root:',
      '      path: /',
      '      pool: default',
      '      type: disk',
      '  name: default',
      '  project: ""',
      'projects: []',
      'certificates: []',
      'cluster_groups: []',
      '',
    ].join('\n'),
  );
  t.same(decodePreseed(text).profiles[0]!.devices.root, { type: 'disk', pool: 'default', path: '/' }, 'a dump decodes back');
});

t.test('init flag combinations, in Incus wording', async (t) => {
  const { checkInitFlags } = await import('../../lib/cli/commands/admin');
  t.throws(() => checkInitFlags({ auto: true, preseed: true }), { message: "Can't use --auto and --preseed together" });
  t.throws(() => checkInitFlags({ dump: true, preseed: true }), { message: "Can't use --dump with other flags" });
  t.throws(() => checkInitFlags({ dump: true, auto: true }), { message: "Can't use --dump with other flags" });
  t.doesNotThrow(() => checkInitFlags({ preseed: true }));
  t.doesNotThrow(() => checkInitFlags({ dump: true }));
});
