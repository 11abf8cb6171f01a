/** Storage volume config validation, volume types, the btrfs/lvm pool config defaults and the keys every pool takes. */
import t from 'tap';
import { BtrfsDriver } from '../../lib/server/storage/drivers/btrfs';
import { DirDriver } from '../../lib/server/storage/drivers/dir';
import { checkCommonPoolKeys, isCommonPoolKey, volumeDefaultsFrom } from '../../lib/server/storage/pool-keys';
import { LvmDriver } from '../../lib/server/storage/drivers/lvm';
import { validateVolumeConfig, volumeType } from '../../lib/server/storage/volumes';
import { splitVolume } from '../../lib/cli/commands/storage-volume';

t.test('volume config keys', async (t) => {
  t.doesNotThrow(() => validateVolumeConfig({ size: '10MiB', 'user.x': 'y', 'initial.mode': '0755', 'security.shifted': 'true' }));
  t.throws(() => validateVolumeConfig({ bogus: '1' }), /bogus/);
  t.throws(() => validateVolumeConfig({ size: 'big' }), /"size"/);
  t.throws(() => validateVolumeConfig({ 'initial.uid': '-1' }), /initial.uid/);
  t.throws(() => validateVolumeConfig({ 'initial.mode': '999' }), /initial.mode/);
  t.throws(() => validateVolumeConfig({ 'security.shifted': 'true', 'security.unmapped': 'true' }), /mutually exclusive/, 'shifted and unmapped exclude each other');
  t.doesNotThrow(() => validateVolumeConfig({ 'volatile.idmap.last': '[]', 'volatile.idmap.next': '[]' }, 'filesystem'), 'the recorded on-disk map is a volume key');
  t.throws(() => validateVolumeConfig({ 'volatile.idmap.last': '[]' }, 'block', 'b'), /volatile.idmap.last/, 'not on a block volume');
  t.equal(volumeType('custom'), 'custom');
  t.throws(() => volumeType('nope'), /Invalid storage volume type/);
});

t.test('btrfs pool config', async (t) => {
  const d = new BtrfsDriver();
  const mountPath = '/var/lib/incus/storage-pools/p1';
  t.same(d.fillPoolConfig({ name: 'p1', mountPath, config: { size: '1GiB' } }), { size: '1GiB', source: '/var/lib/incus/disks/p1.img' });
  t.equal(d.fillPoolConfig({ name: 'p1', mountPath, config: {} }).size, '5GiB', 'default loop size');
  t.throws(() => d.fillPoolConfig({ name: 'p1', mountPath, config: { size: 'lots' } }), /"size"/);
  t.throws(() => d.fillPoolConfig({ name: 'p1', mountPath, config: { source: '/dev/sdz', size: '1GiB' } }), /"size"/);
  t.throws(() => d.fillPoolConfig({ name: 'p1', mountPath, config: { source: 'rel' } }), /absolute/);
  t.throws(() => d.fillPoolConfig({ name: 'p1', mountPath, config: { zfs: '1' } }), /Unknown key "zfs"/);
  t.equal(d.info.optimizedImages, true);
});

t.test('lvm pool config', async (t) => {
  const d = new LvmDriver();
  const c = d.fillPoolConfig({ name: 'p1', mountPath: '/x/storage-pools/p1', config: {} });
  t.equal(c['lvm.vg_name'], 'p1');
  t.equal(c['lvm.thinpool_name'], 'IncusThinPool');
  t.equal(c.source, '/x/disks/p1.img');
});

t.test('CLI volume arguments', async (t) => {
  t.same(splitVolume('v1'), { type: 'custom', name: 'v1' });
  t.same(splitVolume('container/c1'), { type: 'container', name: 'c1' });
});

t.test('common pool keys: volume.* defaults on every driver, values checked, copied to new volumes', async (t) => {
  const mountPath = '/var/lib/incus/storage-pools/p1';
  const dir = new DirDriver();
  t.same(dir.fillPoolConfig({ name: 'p1', mountPath, config: { 'volume.snapshots.expiry': '3d', 'rsync.bwlimit': '1MiB' } })['volume.snapshots.expiry'], '3d');
  t.throws(() => dir.fillPoolConfig({ name: 'p1', mountPath, config: { size: '1GiB' } }), /Unknown key "size"/, 'size is not a dir pool key');
  t.throws(() => dir.fillPoolConfig({ name: 'p1', mountPath, config: { 'volume.zfs.use_refquota': 'true' } }), /Unknown key/, 'another driver\'s volume key');
  t.ok(isCommonPoolKey('volume.security.shifted'));
  t.notOk(isCommonPoolKey('volume.block.filesystem'));
  t.doesNotThrow(() => checkCommonPoolKeys({ 'volume.snapshots.schedule': '@daily', 'volume.size': '1GiB' }));
  t.throws(() => checkCommonPoolKeys({ 'volume.snapshots.expiry': 'soon' }), /Invalid value for option "volume.snapshots.expiry"/);
  t.throws(() => checkCommonPoolKeys({ 'rsync.compression': 'maybe' }), /boolean "maybe"/);
  const pool = { 'volume.snapshots.expiry': '3d', 'volume.size': '1GiB', 'volume.security.shifted': 'true', 'volume.security.shared': 'true', source: '/x' };
  t.same(volumeDefaultsFrom(pool, 'custom', 'filesystem'), { 'snapshots.expiry': '3d', size: '1GiB', 'security.shifted': 'true' });
  t.same(volumeDefaultsFrom(pool, 'custom', 'block'), { 'snapshots.expiry': '3d', size: '1GiB', 'security.shared': 'true' });
  t.same(volumeDefaultsFrom(pool, 'container', 'filesystem'), { 'snapshots.expiry': '3d' }, 'no size or security keys for an instance volume');
});
