/** Block-volume rules that need no disk: sizes, content types, keys by content type. */
import t from 'tap';
import { contentTypeOf, DEFAULT_BLOCK_BYTES, roundBlockBytes, sizeFromImage } from '../../lib/server/storage/block-file';
import { validateVolumeConfig } from '../../lib/server/storage/volumes';

t.test('block sizes', async (t) => {
  t.equal(roundBlockBytes(1), 8192, 'rounded up to 8KiB');
  t.equal(roundBlockBytes(8192), 8192);
  t.equal(DEFAULT_BLOCK_BYTES, 10 * 1024 ** 3, 'Incus default 10GiB');
  t.equal(sizeFromImage(100, undefined), DEFAULT_BLOCK_BYTES, 'default when no size');
  t.equal(sizeFromImage(20 * 1024 ** 3, undefined), 20 * 1024 ** 3, 'never below the image');
  t.equal(sizeFromImage(8192, 16384), 16384);
  t.throws(() => sizeFromImage(16384, 8192), /Source image size \(16384\) exceeds specified volume size \(8192\)/);
});

t.test('content types', async (t) => {
  t.equal(contentTypeOf('virtual-machine'), 'block', 'a VM volume always has a disk');
  t.equal(contentTypeOf('custom'), 'filesystem');
  t.equal(contentTypeOf('custom', { contentType: 'block' }), 'block');
  t.equal(contentTypeOf('container', { contentType: 'block' }), 'filesystem', 'a container never has a disk');
});

t.test('keys by content type', async (t) => {
  t.throws(() => validateVolumeConfig({ 'security.shifted': 'true' }, 'block', 'v'), /Invalid option for volume "v" option "security.shifted"/);
  t.throws(() => validateVolumeConfig({ 'initial.mode': '0755' }, 'block', 'v'), /"initial.mode"/);
  t.throws(() => validateVolumeConfig({ 'security.shared': 'true' }, 'filesystem', 'v'), /"security.shared"/);
  t.doesNotThrow(() => validateVolumeConfig({ 'security.shared': 'true', size: '1GiB' }, 'block', 'v'));
  t.doesNotThrow(() => validateVolumeConfig({ 'security.shifted': 'true' }, 'filesystem', 'v'));
});
