/** `admin init --preseed` on a fresh daemon, then `--dump` gives back what it applied. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { withDaemon } from './lib/daemon';

const PRESEED = `config:
  images.auto_update_interval: 15
storage_pools:
- name: data
  driver: dir
  description: Seeded pool
storage_volumes:
- name: vol1
  pool: data
  description: Seeded volume
  config:
    user.seed: "yes"
projects:
- name: seeded
  description: Seeded project
  config:
    limits.instances: 3
    features.profiles: true
profiles:
- name: default
  devices:
    root:
      type: disk
      path: /
      pool: data
- name: extra
  project: seeded
  description: Extra profile
  config:
    limits.cpu: 2
`;

t.test('preseed applies config, pool, project and profiles; dump round-trips them', async (t) => {
  const d = await withDaemon(t, { init: false });
  const r = await d.cli(['admin', 'init', '--preseed'], PRESEED);
  t.equal(r.code, 0, r.stderr);

  t.equal((await d.client.getServer()).config['images.auto_update_interval'], '15', 'server config key set');
  const pool = await d.client.getStoragePool('data');
  t.same([pool.driver, pool.description], ['dir', 'Seeded pool'], 'dir pool created');
  const { getProject } = require('../../lib/client/projects') as typeof import('../../lib/client/projects');
  const project = await getProject(d.client, 'seeded');
  t.equal(project.config['limits.instances'], '3', 'project with its limit');
  const { getStorageVolume } = require('../../lib/client/storage') as typeof import('../../lib/client/storage');
  const vol = (await getStorageVolume(d.client, 'data', 'custom', 'vol1')).value;
  t.same([vol.type, vol.description, vol.config['user.seed']], ['custom', 'Seeded volume', 'yes'], 'custom volume created on the seeded pool');
  t.same((await d.client.getProfile('default')).devices.root, { type: 'disk', path: '/', pool: 'data' }, 'root disk in default profile');
  const extra = await d.client.useProject('seeded').getProfile('extra');
  t.same([extra.description, extra.config['limits.cpu']], ['Extra profile', '2'], 'profile created in its project');

  // Applying the same preseed again updates in place rather than failing on existing items.
  const again = await d.cli(['admin', 'init', '--preseed'], PRESEED);
  t.equal(again.code, 0, again.stderr);

  const dump = await d.cli(['admin', 'init', '--dump']);
  t.equal(dump.code, 0, dump.stderr);
  const YAML = require('yaml') as typeof import('yaml');
  const doc = YAML.parse(dump.stdout) as Record<string, unknown>;
  t.same(Object.keys(doc), ['config', 'networks', 'storage_pools', 'storage_volumes', 'profiles', 'projects', 'certificates', 'cluster_groups'], 'Incus field order');
  t.equal((doc.config as Record<string, string>)['images.auto_update_interval'], '15');
  t.match(doc.storage_pools, [{ name: 'data', driver: 'dir', description: 'Seeded pool' }]);
  t.match(doc.profiles, [{ name: 'default', devices: { root: { type: 'disk', path: '/', pool: 'data' } } }]);
  const seeded = (doc.projects as { name: string; config: Record<string, string> }[]).find((p) => p.name === 'seeded');
  t.equal(seeded?.config['limits.instances'], '3', 'dump carries the project limit');

  // The dump is itself a valid preseed, here read from a file.
  const file = join(d.dir, 'dump.yaml');
  writeFileSync(file, dump.stdout);
  const replay = await d.cli(['admin', 'init', '--preseed', file]);
  t.equal(replay.code, 0, replay.stderr);
  const missing = await d.cli(['admin', 'init', '--preseed', join(d.dir, 'nope.yaml')]);
  t.match(missing.stderr, /Failed to read from file: ENOENT/);
});

t.test('preseed errors name the item at fault', async (t) => {
  const d = await withDaemon(t, { init: false });
  const unknown = await d.cli(['admin', 'init', '--preseed'], 'storage_pools:\n- name: p\n  driver: dir\n  sise: 1\n');
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /Failed to parse the preseed: yaml: unmarshal errors:\n\s+line 4: field sise not found in type api.StoragePoolsPost/);
  const bad = await d.cli(['admin', 'init', '--preseed'], 'storage_pools:\n- name: p\n  driver: nosuchdriver\n');
  t.not(bad.code, 0);
  t.match(bad.stderr, /Failed to create storage pool "p": /);
  const both = await d.cli(['admin', 'init', '--auto', '--preseed'], '');
  t.match(both.stderr, /Can't use --auto and --preseed together/);
  const dumpFlags = await d.cli(['admin', 'init', '--dump', '--preseed'], '');
  t.match(dumpFlags.stderr, /Can't use --dump with other flags/);
});
