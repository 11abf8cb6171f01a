/** Block-volume rules: sizes, content types, keys by content type; the GPT backup header after a VM disk grows (sgdisk on a temp file). */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contentTypeOf, DEFAULT_BLOCK_BYTES, resizeBlockFile, roundBlockBytes, sizeFromImage } from '../../lib/server/storage/block-file';
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

t.test('a grown VM disk gets its GPT backup header moved to the end', { skip: spawnSync('sh', ['-c', 'command -v sgdisk']).status !== 0 && 'sgdisk (gdisk) missing' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const verify = (f: string): string => spawnSync('sgdisk', ['-v', f], { encoding: 'utf8' }).stdout;
  const gpt = path.join(dir, 'gpt.img');
  fs.writeFileSync(gpt, '');
  fs.truncateSync(gpt, 8 * 1024 * 1024);
  t.equal(spawnSync('sgdisk', ['-n', '1:0:0', gpt]).status, 0, 'a GPT disk with one partition');
  const custom = path.join(dir, 'custom.img');
  fs.copyFileSync(gpt, custom);
  await resizeBlockFile(custom, 'custom', 16 * 1024 * 1024);
  t.match(verify(custom), /secondary header's self-pointer indicates that it doesn't reside\s+at the end of the disk/, 'grown without the move, the backup header is left behind (custom volumes are not VM disks)');
  await resizeBlockFile(gpt, 'virtual-machine', 16 * 1024 * 1024);
  t.equal(fs.statSync(gpt).size, 16 * 1024 * 1024, 'grown');
  t.match(verify(gpt), /No problems found/, 'the VM disk verifies clean: the backup header is at the new end');
  const blank = path.join(dir, 'blank.img');
  fs.writeFileSync(blank, '');
  fs.truncateSync(blank, 8 * 1024 * 1024);
  await resizeBlockFile(blank, 'virtual-machine', 16 * 1024 * 1024);
  t.ok(fs.readFileSync(blank).subarray(512, 520).every((b) => b === 0), 'a blank VM disk gets no partition table written');
});
