/** Storage volume config validation, volume types and the btrfs/lvm pool config defaults. */
import t from 'tap';
import { BtrfsDriver } from '../../lib/server/storage/drivers/btrfs';
import { LvmDriver } from '../../lib/server/storage/drivers/lvm';
import { validateVolumeConfig, volumeType } from '../../lib/server/storage/volumes';
import { splitVolume } from '../../lib/cli/commands/storage-volume';

t.test('volume config keys', async (t) => {
  t.doesNotThrow(() => validateVolumeConfig({ size: '10MiB', 'user.x': 'y', 'initial.mode': '0755', 'security.shifted': 'true' }));
  t.throws(() => validateVolumeConfig({ bogus: '1' }), /bogus/);
  t.throws(() => validateVolumeConfig({ size: 'big' }), /"size"/);
  t.throws(() => validateVolumeConfig({ 'initial.uid': '-1' }), /initial.uid/);
  t.throws(() => validateVolumeConfig({ 'initial.mode': '999' }), /initial.mode/);
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
