/** disk device validation and the mounts host path binds ask for (as liblxc entries). */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskDevice } from '../../../lib/server/instance/devices/disk';
import type { DeviceStartContext } from '../../../lib/server/instance/devices/interface';
import { forkmountOptions } from '../../../lib/native/devices';
import { mergeRunConfigs } from '../../../lib/server/instance/devices/run-config';
import { deviceLxcLines } from '../../../lib/server/instance/drivers/lxc/device-lines';

/** The device's start needs as the container driver writes them. */
async function lxcLines(c: DeviceStartContext): Promise<string[]> {
  const need = await diskDevice.start!(c);
  return need ? deviceLxcLines(mergeRunConfigs([need]), 1) : [];
}

function ctx(config: Record<string, string>, privileged = true): DeviceStartContext {
  return {
    inst: { project: 'default', name: 'c1', type: 'container', expandedConfig: {}, expandedDevices: {}, volumePath: '/v', idmappedRootfs: false, idmap: privileged ? null : [] },
    name: 'share',
    config: { type: 'disk', ...config },
    varDir: '/var/lib/incus',
    dirName: 'c1',
    setCgroup: async () => undefined,
    devicesDir: '/var/lib/incus/devices/c1',
    logDir: '/var/log/incus/c1',
    host: { devRoot: '/dev', sysRoot: '/sys', procRoot: '/proc', devicesCgroup: 1 },
  };
}

t.test('bind entries', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'disk-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), 'x');
  t.same(await lxcLines(ctx({ source: dir, path: '/mnt/share' })), [`lxc.mount.entry = ${dir} mnt/share none bind,create=dir 0 0`]);
  t.same(await lxcLines(ctx({ source: join(dir, 'file'), path: '/etc/x', readonly: 'true', recursive: 'true', propagation: 'rslave' })), [
    `lxc.mount.entry = ${dir}/file etc/x none rbind,create=file,ro,rslave 0 0`,
  ]);
  t.same(await lxcLines(ctx({ source: dir, path: '/m', shift: 'true' })), [`lxc.mount.entry = ${dir} m none bind,create=dir 0 0`], 'privileged: shift is moot');
  t.same(await lxcLines(ctx({ source: join(dir, 'gone'), path: '/m', required: 'false' })), [], 'missing, not required: skipped');
  t.same(await lxcLines(ctx({ source: 'tmpfs:', path: '/mnt/tmp', size: '1MiB', 'initial.mode': '0700', 'initial.uid': '5' })), ['lxc.mount.entry = tmpfs mnt/tmp tmpfs size=1048576,mode=0700,uid=5,create=dir 0 0'], 'tmpfs: a tmpfs entry');
  t.same(await lxcLines(ctx({ source: dir, path: 'rel/dir' })), [`lxc.mount.entry = ${dir} rel/dir none bind,create=dir 0 0`], 'a relative path mounts below the root');
  await t.rejects(lxcLines(ctx({ source: join(dir, 'gone'), path: '/m' })), /Missing source path/);
  t.same(await lxcLines(ctx({ pool: 'default', path: '/' })), [], 'the root disk is the storage layer\'s');
});

t.test('forkmount options for hot-plug', async (t) => {
  t.equal(forkmountOptions({ source: '/a', target: '/b', kind: 'dir' }), 'bind,dir');
  t.equal(forkmountOptions({ source: '/a', target: '/b', kind: 'file', recursive: true, readonly: true, idmap: true, propagation: 'rshared' }), 'rbind,file,ro,idmap,rshared');
  t.throws(() => forkmountOptions({ source: '/a', target: '/b', kind: 'dir', propagation: 'weird' }), /propagation/);
});

t.test('disk validation', async (t) => {
  const v = (c: Record<string, string>, profile = false) => () => diskDevice.validate('d', { type: 'disk', ...c }, { profile, poolExists: (p) => p === 'default' });
  t.doesNotThrow(v({ pool: 'default', path: '/' }));
  t.doesNotThrow(v({ source: '/srv', path: '/srv', readonly: 'true', shift: 'false', required: 'false', recursive: 'yes', propagation: 'shared' }));
  t.throws(v({ pool: 'nope', path: '/' }), /Storage pool "nope"/);
  t.throws(v({ source: '/srv' }), /Missing "path"/);
  t.throws(v({ path: '/srv' }), /Missing "source"/);
  t.throws(v({ source: '/srv', path: '/' }), /"path".*root disk/);
  t.throws(v({ source: 'srv', path: '/srv' }), /"source"/);
  t.doesNotThrow(v({ source: '/srv', path: 'srv' }), 'a relative path is relative to the root, as in Incus');
  t.throws(v({ source: '/srv', path: '/srv', readonly: 'sometimes' }), /"readonly"/);
  t.throws(v({ source: '/srv', path: '/srv', propagation: 'everywhere' }), /"propagation"/);
  t.throws(v({ source: '/srv', path: '/srv', size: '1GiB' }), /size quota/);
  t.doesNotThrow(v({ source: 'vol1', pool: 'default', path: '/srv' }), 'a custom volume');
  t.throws(v({ source: 'vol1', pool: 'nope', path: '/srv' }), /Storage pool "nope"/);
  t.doesNotThrow(v({ source: 'a/b', pool: 'default', path: '/srv' }), 'a sub-path of a volume (opened beneath it at start)');
  t.throws(v({ source: '../b', pool: 'default', path: '/srv' }), /custom volume name/);
  t.doesNotThrow(v({ source: 'a/b', pool: 'default', path: '/srv', 'initial.uid': '1', 'initial.gid': '2', 'initial.mode': '0750' }), 'initial.* for made sub-paths');
  t.doesNotThrow(v({ source: 'tmpfs:', path: '/tmp', size: '16MiB', 'initial.mode': '1777' }), 'a tmpfs disk may have a size');
  t.throws(v({ source: 'tmpfs:', path: '/tmp', size: 'lots' }), /"size"/);
  t.doesNotThrow(v({ source: '/dev/sdz', path: '/mnt', 'raw.mount.options': 'uid=1,ro' }), 'raw.mount.options');
  t.throws(v({ source: 'vol1', pool: 'default', path: '/srv', size: '1GiB' }), /size quota/);
  t.throws(v({ source: '/srv', path: '/srv', wat: '1' }), /Invalid device "d": Unknown key "wat"/);
});

t.test('custom block volumes: VMs only, without a path, a drive at start', async (t) => {
  const vols: Record<string, string> = { blk: 'block', fs: 'filesystem', used: 'block', shared: 'block' };
  const users: Record<string, string[]> = { used: ['/1.0/instances/v2'], shared: ['/1.0/instances/v2'] };
  const v = (c: Record<string, string>, instanceType: 'container' | 'virtual-machine' = 'virtual-machine') => () =>
    diskDevice.validate('d', { type: 'disk', pool: 'default', ...c }, {
      profile: false,
      instanceType,
      poolExists: (p) => p === 'default',
      customVolume: (_pool, name) =>
        vols[name] ? { contentType: vols[name]!, config: (name === 'shared' ? { 'security.shared': 'true' } : {}) as Record<string, string> } : undefined,
      otherVolumeUsers: (_pool, name) => users[name] ?? [],
    });
  t.doesNotThrow(v({ source: 'blk' }), 'a block volume on a VM, no path');
  t.throws(v({ source: 'blk', path: '/mnt' }), /Custom block volumes cannot have a path defined/);
  t.throws(v({ source: 'blk' }, 'container'), /Custom block volumes cannot be used on containers/);
  t.throws(v({ source: 'fs' }), /Custom filesystem volumes require a path to be defined/);
  t.doesNotThrow(v({ source: 'fs', path: '/mnt' }));
  t.throws(v({ source: 'used' }), /Cannot add un-shared custom storage block volume to more than one instance/);
  t.doesNotThrow(v({ source: 'shared' }), 'security.shared lets several VMs attach it');

  const c = ctx({ pool: 'default', source: 'blk', readonly: 'true' });
  c.inst = { ...c.inst, type: 'virtual-machine', blockVolumes: { share: '/pool/custom/default_blk/root.img' } };
  t.same(await diskDevice.start!(c), { drives: [{ device: 'share', source: '/pool/custom/default_blk/root.img', readonly: true }] });
  c.inst = { ...c.inst, type: 'container' };
  await t.rejects(diskDevice.start!(c), /cannot be used on containers/, 'a container never gets one (a profile slipping it through)');
});
