/**
 * Interactive `incus admin init` (no flags) on fresh daemons in their own
 * network namespaces, answers fed through stdin: Incus's questions in its
 * order and wording, invalid answers asked again, the answers applied as a
 * preseed (pool, bridge, HTTPS address, image refresh, default profile
 * devices) and printed as Incus's init preseed YAML. Also: clustering is
 * refused, input ending early is an error, btrfs on a loop file, and
 * `--minimal`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { freeLocalPort } from '../../bench/lib/free-port';
import { getNetwork } from '../../lib/client/networks';
import { defaultLoopSizeGiB } from '../../lib/cli/admin-init-host';
import { runCli, withDaemon } from './lib/daemon';

const haveBtrfs = spawnSync('mkfs.btrfs', ['--version']).status === 0 && readFileSync('/proc/filesystems', 'utf8').includes('btrfs');

/** Questions and answers, in order; the questions' text is what stdout must show. */
function dialogue(steps: [question: string, answer: string][]): { input: string; questions: string } {
  return { input: steps.map(([, a]) => `${a}\n`).join(''), questions: steps.map(([q]) => q).join('') };
}

const CLUSTER_Q = 'Would you like to use clustering? (yes/no) [default=no]: ';
const POOL_Q = 'Do you want to configure a new storage pool? (yes/no) [default=yes]: ';
const POOL_NAME_Q = 'Name of the new storage pool [default=default]: ';
const BACKEND_Q = 'Name of the storage backend to use (btrfs, dir, lvm) [default=btrfs]: ';
const BRIDGE_Q = 'Would you like to create a new local network bridge? (yes/no) [default=yes]: ';
const EXISTING_IF_Q = 'Would you like to use an existing bridge or host interface? (yes/no) [default=no]: ';
const BRIDGE_NAME_Q = 'What should the new bridge be called? [default=incusbr0]: ';
const IPV4_Q = 'What IPv4 address should be used? (CIDR subnet notation, “auto” or “none”) [default=auto]: ';
const NAT4_Q = 'Would you like to NAT IPv4 traffic on your bridge? [default=yes]: ';
const IPV6_Q = 'What IPv6 address should be used? (CIDR subnet notation, “auto” or “none”) [default=auto]: ';
const NETWORK_Q = 'Would you like the server to be available over the network? (yes/no) [default=no]: ';
const ADDRESS_Q = 'Address to bind to (not including port) [default=all]: ';
const PORT_Q = 'Port to bind to [default=8443]: ';
const STALE_Q = 'Would you like stale cached images to be updated automatically? (yes/no) [default=yes]: ';
const PRINT_Q = 'Would you like a YAML "init" preseed to be printed? (yes/no) [default=no]: ';

t.test('answers on stdin become a pool, a bridge, an HTTPS address and the default profile', async (t) => {
  const d = await withDaemon(t, { init: false, netns: true });
  // A pool that already exists: its name is refused and asked again.
  await d.client.createStoragePool({ name: 'taken', driver: 'dir', config: {}, description: '' });
  const port = await freeLocalPort();
  const { input, questions } = dialogue([
    [CLUSTER_Q, 'maybe'],
    [CLUSTER_Q, ''],
    [POOL_Q, 'yes'],
    [POOL_NAME_Q, 'taken'],
    [POOL_NAME_Q, 'pool1'],
    [BACKEND_Q, 'zfs'],
    [BACKEND_Q, 'dir'],
    [`Where should this storage pool store its data? [default=${d.dir}/storage-pools/pool1]: `, ''],
    [BRIDGE_Q, ''],
    [BRIDGE_NAME_Q, 'br/0'],
    [BRIDGE_NAME_Q, 'testbr0'],
    [IPV4_Q, '10.99.0.0/24'],
    [IPV4_Q, '10.99.0.1/24'],
    [NAT4_Q, 'no'],
    [IPV6_Q, 'none'],
    [NETWORK_Q, 'yes'],
    [ADDRESS_Q, 'somewhere'],
    [ADDRESS_Q, '127.0.0.1'],
    [PORT_Q, '70000'],
    [PORT_Q, String(port)],
    [STALE_Q, 'no'],
    [PRINT_Q, 'yes'],
  ]);
  const r = await d.cli(['admin', 'init'], input);
  t.equal(r.code, 0, r.stderr);

  const preseed = `config:
  core.https_address: 127.0.0.1:${port}
  images.auto_update_interval: "0"
networks:
- config:
    ipv4.address: 10.99.0.1/24
    ipv4.nat: "false"
    ipv6.address: none
  description: ""
  name: testbr0
  type: ""
  project: default
storage_pools:
- config: {}
  description: ""
  name: pool1
  driver: dir
storage_volumes: []
profiles:
- config: {}
  description: ""
  devices:
    eth0:
      name: eth0
      network: testbr0
      type: nic
    root:
      path: /
      pool: pool1
      type: disk
  name: default
  project: default
projects: []
certificates: []
cluster_groups: []
cluster: null

`;
  const dup = 'The requested storage pool "taken" already exists. Please choose another name.\n';
  const [beforeDup, afterDup] = questions.split(POOL_NAME_Q + POOL_NAME_Q);
  t.equal(r.stdout, `${beforeDup}${POOL_NAME_Q}${dup}${POOL_NAME_Q}${afterDup}${preseed}`, "Incus's questions in its order, then the preseed");
  t.equal(
    r.stderr,
    [
      'Invalid input, try again.\n\n',
      'Invalid input, try again.\n\n',
      'Invalid input: Network interface contains invalid characters\n\n',
      'Invalid input: Not a usable IPv4 address "10.99.0.0/24"\n\n',
      'Invalid input: "somewhere" is not an IP address\n\n',
      'Invalid input: out of range\n\n',
    ].join(''),
    'each invalid answer is reported and asked again',
  );

  const server = await d.client.getServer();
  t.equal(server.config['core.https_address'], `127.0.0.1:${port}`, 'HTTPS address set');
  t.equal(server.config['images.auto_update_interval'], '0', 'stale image refresh off');
  const pool = await d.client.getStoragePool('pool1');
  t.equal(pool.driver, 'dir');
  const net = await getNetwork(d.client, 'testbr0');
  t.equal(net.managed, true, 'bridge created');
  t.match(net.config, { 'ipv4.address': '10.99.0.1/24', 'ipv4.nat': 'false', 'ipv6.address': 'none' });
  const ip = d.netns!.run(['ip', '-4', 'addr', 'show', 'testbr0'], 10_000);
  t.match(ip.out, 'inet 10.99.0.1/24', 'the bridge is up inside the namespace');
  t.same((await d.client.getProfile('default')).devices, {
    eth0: { name: 'eth0', network: 'testbr0', type: 'nic' },
    root: { path: '/', pool: 'pool1', type: 'disk' },
  });
});

t.test('clustering is refused; input ending early is an error; nothing is applied', async (t) => {
  const d = await withDaemon(t, { init: false });
  const cluster = await d.cli(['admin', 'init'], 'yes\n');
  t.equal(cluster.code, 1);
  t.equal(cluster.stdout, CLUSTER_Q);
  t.equal(cluster.stderr, 'Error: Clustering is not supported yet\n');
  const early = await d.cli(['admin', 'init'], 'no\nyes\n');
  t.equal(early.code, 1);
  t.equal(early.stdout, CLUSTER_Q + POOL_Q + POOL_NAME_Q);
  t.equal(early.stderr, 'Error: EOF\n');
  for (const [flags, msg] of [
    [['--minimal', '--auto'], "Can't use --minimal and --auto together"],
    [['--minimal', '--preseed'], "Can't use --minimal and --preseed together"],
    [['--dump', '--minimal'], "Can't use --dump with other flags"],
    [['--storage-create-loop', '1'], 'Configuration flags require --auto'],
    [['--auto', '--storage-backend', 'ceph'], "The requested backend 'ceph' isn't supported by init"],
    [['--auto', '--storage-backend', 'zfs'], "The requested backend 'zfs' isn't available on your system (missing tools)"],
    [['--auto', '--storage-pool', 'x'], "None of --storage-pool, --storage-create-device or --storage-create-loop may be used with the 'dir' backend"],
    [['--auto', '--storage-backend', 'btrfs', '--storage-create-loop', '1', '--storage-create-device', '/dev/null'], 'Only one of --storage-create-device or --storage-create-loop can be specified'],
  ] as const) {
    const r = await d.cli(['admin', 'init', ...flags]);
    t.equal(r.stderr, `Error: ${msg}\n`, flags.join(' '));
  }
  t.same(await d.client.getStoragePools(), [], 'no pool created');

  // As Incus's, admin commands talk to the local daemon whatever the default remote is.
  const conf = join(d.dir, 'far-conf');
  mkdirSync(conf);
  writeFileSync(join(conf, 'config.yml'), 'default-remote: far\nremotes:\n  far:\n    addr: https://127.0.0.1:1\n    auth_type: tls\n    protocol: incus\n    public: false\n');
  const farEnv = { INCUS_DIR: d.dir, INCUS_SOCKET: '', INCUS_CONF: conf, INCUS_REMOTE: '' };
  const dump = await runCli(farEnv, ['admin', 'init', '--dump']);
  t.equal(dump.code, 0, dump.stderr);
  t.match(dump.stdout, /^config: {}\nnetworks: \[\]\n/, 'the local daemon dumped');
  t.equal((await runCli(farEnv, ['admin', 'waitready', '--timeout', '5'])).code, 0, 'waitready on the local daemon');
});

t.test('btrfs on a new loop file, no network', { skip: haveBtrfs ? false : 'no btrfs (mkfs.btrfs or kernel support missing)' }, async (t) => {
  const d = await withDaemon(t, { init: false });
  const sizeQ = `Size in GiB of the new loop device (1GiB minimum) [default=${defaultLoopSizeGiB(d.dir)}GiB]: `;
  const { input, questions } = dialogue([
    [CLUSTER_Q, 'no'],
    [POOL_Q, 'yes'],
    [POOL_NAME_Q, 'bpool'],
    [BACKEND_Q, ''],
    ['Create a new BTRFS pool? (yes/no) [default=yes]: ', ''],
    ['Would you like to use an existing empty block device (e.g. a disk or partition)? (yes/no) [default=no]: ', ''],
    [sizeQ, '0'],
    [sizeQ, '1'],
    [BRIDGE_Q, 'no'],
    [EXISTING_IF_Q, 'no'],
    [NETWORK_Q, ''],
    [STALE_Q, ''],
    [PRINT_Q, ''],
  ]);
  const r = await d.cli(['admin', 'init'], input);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, questions, 'questions of the btrfs path, in order');
  t.equal(r.stderr, 'Invalid input: Minimum size is 1GiB\n\n');
  const pool = await d.client.getStoragePool('bpool');
  t.equal(pool.driver, 'btrfs');
  t.equal(pool.config.size, '1GiB', 'loop size from the answer');
  t.same((await d.client.getProfile('default')).devices, { root: { path: '/', pool: 'bpool', type: 'disk' } }, 'root disk only: no network');
  const server = await d.client.getServer();
  t.equal(server.config['core.https_address'], undefined, 'not on the network');
  await d.cli(['profile', 'device', 'remove', 'default', 'root']);
  await d.cli(['storage', 'delete', 'bpool']);
});

t.test('--minimal: a dir pool and a bridge without questions; then storage flags are refused', async (t) => {
  const d = await withDaemon(t, { init: false, netns: true });
  const r = await d.cli(['admin', 'init', '--minimal']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, '', 'no questions');
  t.equal((await d.client.getStoragePool('default')).driver, 'dir');
  t.same((await d.client.getProfile('default')).devices, {
    eth0: { name: 'eth0', network: 'incusbr0', type: 'nic' },
    root: { path: '/', pool: 'default', type: 'disk' },
  });
  const again = await d.cli(['admin', 'init', '--auto', '--storage-backend', 'dir']);
  t.equal(again.stderr, 'Error: Storage has already been configured\n');
});

t.test('--auto with --storage-backend btrfs --storage-create-loop --storage-pool', { skip: haveBtrfs ? false : 'no btrfs (mkfs.btrfs or kernel support missing)' }, async (t) => {
  const d = await withDaemon(t, { init: false, netns: true });
  const r = await d.cli(['admin', 'init', '--auto', '--storage-backend', 'btrfs', '--storage-create-loop', '1', '--storage-pool', 'bp']);
  t.equal(r.code, 0, r.stderr);
  const pool = await d.client.getStoragePool('bp');
  t.same([pool.driver, pool.config.size], ['btrfs', '1GiB'], 'a btrfs pool on a 1 GiB loop file, named by --storage-pool');
  t.same((await d.client.getProfile('default')).devices, {
    eth0: { name: 'eth0', network: 'incusbr0', type: 'nic' },
    root: { path: '/', pool: 'bp', type: 'disk' },
  });
  await d.cli(['profile', 'device', 'remove', 'default', 'root']);
  await d.cli(['storage', 'delete', 'bp']);
});
