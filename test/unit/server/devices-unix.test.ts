/** Device nodes (unix-char/block) and the shared device plumbing: names, ids, lines, validation. */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerPathOfNode, fstabEscape, nodeDestKey, splitDev, unixNodeHostPath } from '../../../lib/server/instance/devices/paths';
import { type UnixNode, cgroupRule, hostId, nodeRunConfig } from '../../../lib/server/instance/devices/unix-node';
import { mergeRunConfigs } from '../../../lib/server/instance/devices/run-config';
import { deviceLxcLines } from '../../../lib/server/instance/drivers/lxc/device-lines';

const nodeLxcLines = (host: string, node: UnixNode, v: 0 | 1 | 2): string[] => deviceLxcLines(mergeRunConfigs([nodeRunConfig({ path: host, dupe: false }, node)]), v);
import { unixNodeOf, validateUnix } from '../../../lib/server/instance/devices/unix-common';
import { deviceChanges, deviceOrder } from '../../../lib/server/instance/devices/runner';
import { parseSwtpmDevice, tpmNodes, tpmrmNumber } from '../../../lib/server/instance/devices/tpm';

t.test('host file names of device nodes', async (t) => {
  const host = unixNodeHostPath('/var/lib/incus/devices/c1', 'my.dev', '/dev/hot/my-zero');
  t.equal(host, '/var/lib/incus/devices/c1/unix.my.dev.dev-hot-my--zero', 'Incus\'s PathNameEncode of unix.<name>.<path>');
  t.equal(unixNodeHostPath('/d', 'test-dev1', '/tmp/testdev'), '/d/unix.test--dev1.tmp-testdev', 'as Incus\'s own test expects it');
  for (const p of ['/dev/my-dev/x', '/a--b/c-', '/dev/null', '/dev/with space/%odd', '/dev/a.b']) {
    const file = unixNodeHostPath('/d', 'n', p).slice(3);
    t.equal(containerPathOfNode(file, 'n'), p, `${p} round-trips`);
  }
  t.equal(containerPathOfNode('unix.my.dev.dev-x', 'my', ['my.dev']), null, 'a name that is a prefix of another does not claim its files');
  t.equal(containerPathOfNode('unix.my.dev.dev-x', 'my.dev', ['my']), '/dev/x');
  t.equal(nodeDestKey('unix.test--dev2.tmp-testdev'), 'tmp-testdev', 'the part Incus compares for two devices at one path');
  t.equal(fstabEscape('/a b\\c\td'), '/a\\040b\\\\c\\011d');
  t.same(splitDev(0x0103n), { major: 1, minor: 3 });
  t.same(splitDev((0x123n << 8n) | 0x45n | (0x678n << 12n << 8n)), { major: 0x123, minor: 0x67845 }, 'large minors');
});

t.test('owners shift through the id map', async (t) => {
  const map = [
    { isUid: true, isGid: false, hostId: 1000000, nsId: 0, range: 1000 },
    { isUid: true, isGid: false, hostId: 1000, nsId: 1000, range: 1 },
    { isUid: false, isGid: true, hostId: 2000000, nsId: 0, range: 65536 },
  ];
  t.equal(hostId(map, 7, 'uid'), 1000007);
  t.equal(hostId(map, 1000, 'uid'), 1000, 'raw.idmap hole');
  t.equal(hostId(map, 8, 'gid'), 2000008);
  t.equal(hostId(null, 7, 'uid'), 7, 'privileged: no shift');
  t.throws(() => hostId(map, 5000, 'uid'), /no mapping/);
});

t.test('liblxc lines and cgroup rules', async (t) => {
  const node = { path: '/dev/my zero', type: 'c' as const, major: 1, minor: 5, mode: 0o620, uid: 7, gid: 8 };
  t.equal(cgroupRule(node), 'c 1:5 rwm');
  t.same(nodeLxcLines('/d/unix.z.dev-my zero', node, 1), [
    'lxc.mount.entry = /d/unix.z.dev-my\\040zero dev/my\\040zero none bind,create=file 0 0',
    'lxc.cgroup.devices.allow = c 1:5 rwm',
  ]);
  t.equal(cgroupRule({ type: 'b', major: 7, minor: 0 }), 'b 7:0 rwm');
});

t.test('unix-char and unix-block nodes and validation', async (t) => {
  t.same(unixNodeOf({ type: 'unix-char', source: '/dev/null' }, 'c'), { path: '/dev/null', type: 'c', major: 1, minor: 3, mode: 0o660, uid: 0, gid: 0 }, 'numbers from the source, Incus defaults');
  t.same(unixNodeOf({ type: 'unix-char', source: '/dev/null', path: '/dev/n2', mode: '0666', uid: '5', gid: '6' }, 'c'), {
    path: '/dev/n2',
    type: 'c',
    major: 1,
    minor: 3,
    mode: 0o666,
    uid: 5,
    gid: 6,
  });
  t.same(unixNodeOf({ type: 'unix-block', path: '/dev/loopx', major: '7', minor: '200' }, 'b')?.minor, 200, 'major/minor need no source');
  t.equal(unixNodeOf({ type: 'unix-char', source: '/dev/no-such', required: 'false' }, 'c'), null, 'missing and not required: skipped');
  t.throws(() => unixNodeOf({ type: 'unix-char', source: '/dev/no-such' }, 'c'), /required device path/);
  t.throws(() => unixNodeOf({ type: 'unix-block', source: '/dev/null' }, 'b'), /not a unix-block device/);
  const dir = mkdtempSync(join(tmpdir(), 'unix-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'plain'), '');
  t.throws(() => unixNodeOf({ type: 'unix-char', source: join(dir, 'plain') }, 'c'), /not a unix-char device/);

  const v = (c: Record<string, string>, type: 'unix-char' | 'unix-block' = 'unix-char') => () => validateUnix('u', { type, ...c }, type);
  t.doesNotThrow(v({ source: '/dev/zero', path: '/dev/z', mode: '0600', uid: '0', gid: '0', required: 'false' }));
  t.throws(v({}), /Invalid device "u": .*"source" or "path"/);
  t.throws(v({ path: '/dev/x', mode: 'rw' }), /"mode"/);
  t.throws(v({ path: '/dev/x', uid: '-3' }), /"uid"/);
  t.throws(v({ path: '/dev/x', major: '1' }), /"major" and "minor"/);
  t.throws(v({ path: 'dev/x' }), /"path".*absolute/);
  t.throws(v({ path: '/dev/x', 'limits.read': '10MB' }), /only supported for unix-block/);
  t.throws(v({ path: '/dev/x', required: 'maybe' }), /"required"/);
});

t.test('device order and changes', async (t) => {
  const devices = {
    z: { type: 'unix-char', path: '/dev/z' },
    inner: { type: 'disk', source: '/a', path: '/mnt/a/b' },
    outer: { type: 'disk', source: '/b', path: '/mnt/a' },
    root: { type: 'disk', pool: 'default', path: '/' },
    a: { type: 'proxy', listen: 'tcp::1', connect: 'tcp::2' },
  };
  t.same(deviceOrder(devices).map(([n]) => n), ['root', 'outer', 'inner', 'a', 'z'], 'disks parent first, then by name');
  const after = { ...devices, z: { ...devices.z, mode: '0600' }, n: { type: 'unix-char', path: '/dev/n' } } as Record<string, Record<string, string>>;
  delete after.a;
  const { removed, added } = deviceChanges(devices, after);
  t.same(removed.map(([n]) => n), ['a', 'z'], 'gone and changed');
  t.same(added.map(([n]) => n), ['n', 'z'], 'new and changed');
  t.same(deviceChanges(devices, { ...devices }), { removed: [], added: [] }, 'key order does not matter');
});

t.test('tpm: swtpm output and nodes', async (t) => {
  t.same(parseSwtpmDevice('New TPM device: /dev/tpm1 (major/minor = 253/1)\n'), { index: 1, major: 253, minor: 1 });
  t.equal(parseSwtpmDevice('swtpm: some error'), null);
  const sys = mkdtempSync(join(tmpdir(), 'tpm-'));
  t.teardown(() => rmSync(sys, { recursive: true, force: true }));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(sys, 'class', 'tpmrm', 'tpmrm1'), { recursive: true });
  writeFileSync(join(sys, 'class', 'tpmrm', 'tpmrm1', 'dev'), '253:65537\n');
  t.same(tpmrmNumber(sys, 1), { major: 253, minor: 65537 });
  t.equal(tpmrmNumber(sys, 2), null);
  t.same(
    tpmNodes({ path: '/dev/tpm0', pathrm: '/dev/tpmrm0' }, { major: 253, minor: 1 }, { major: 253, minor: 65537 }).map((n) => `${n.path} ${n.major}:${n.minor}`),
    ['/dev/tpm0 253:1', '/dev/tpmrm0 253:65537'],
  );
});
