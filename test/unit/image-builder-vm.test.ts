/** Pure pieces of `incus-image-builder busybox --vm`: cpio, module closure, apt parsing, UKI layout, args, image type. */
import t from 'tap';
import { parseBuilderArgs } from '../../lib/image-builder/args';
import { writeCpio } from '../../lib/image-builder/vm/cpio';
import { builderCacheDir } from '../../lib/image-builder/vm/cache-dir';
import { derivedGuid, espSizeMiB } from '../../lib/image-builder/vm/disk';
import { INIT_SCRIPT, READY_MARKER, UDHCPC_SCRIPT } from '../../lib/image-builder/vm/guest-init';
import { cachedKernelDebs, parseKernelDepends } from '../../lib/image-builder/vm/kernel-package';
import { filteredModulesAlias, filteredModulesDep, moduleClosure, moduleName } from '../../lib/image-builder/vm/modules';
import { parseObjdumpSections, sectionLayout } from '../../lib/image-builder/vm/uki';
import { memberType } from '../../lib/server/images/image-type';

t.test('newc cpio: headers, padding, trailer', async (t) => {
  const out = writeCpio(
    [
      { kind: 'dir', path: 'bin', mode: 0o755 },
      { kind: 'file', path: 'bin/x', mode: 0o755, data: Buffer.from('abc') },
      { kind: 'symlink', path: 'bin/sh', target: 'x' },
      { kind: 'chardev', path: 'console', mode: 0o600, major: 5, minor: 1 },
    ],
    1700000000,
  );
  const text = out.toString('latin1');
  t.equal(text.slice(0, 6), '070701');
  t.equal(out.length % 4, 0, 'the archive is 4-byte aligned');
  // First header: ino 1, mode 040755, uid 0, gid 0, nlink 2, mtime.
  t.equal(text.slice(6, 6 + 48), ['00000001', '000041ed', '00000000', '00000000', '00000002', (1700000000).toString(16).padStart(8, '0')].join(''));
  const file = text.indexOf('bin/x\0');
  t.ok(file > 0);
  t.equal(text.slice(file + 6 + ((4 - ((110 + 6) % 4)) % 4), file + 6 + ((4 - ((110 + 6) % 4)) % 4) + 3), 'abc', 'file data follows its padded name');
  const dev = text.lastIndexOf('070701', text.indexOf('console\0'));
  t.equal(text.slice(dev + 6 + 8, dev + 6 + 16), '00002180', 'character device 0600');
  t.equal(text.slice(dev + 6 + 9 * 8, dev + 6 + 11 * 8), '0000000500000001', 'rdev 5:1');
  t.match(text, /TRAILER!!!\0/);
  t.throws(() => writeCpio([{ kind: 'dir', path: '/abs', mode: 0o755 }], 0), RangeError);
  t.throws(() => writeCpio([{ kind: 'dir', path: 'a/../b', mode: 0o755 }], 0), RangeError);
});

t.test('module closure from modules.dep', async (t) => {
  const dep = [
    'kernel/drivers/virtio/virtio.ko:',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/net/9p/9pnet.ko:',
    'kernel/net/9p/9pnet_virtio.ko: kernel/drivers/virtio/virtio.ko kernel/net/9p/9pnet.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/lib/crc-t10dif.ko:',
    '',
  ].join('\n');
  t.equal(moduleName('kernel/lib/crc-t10dif.ko'), 'crc_t10dif');
  const sel = moduleClosure(dep, 'kernel/fs/ext4/ext4.ko\n', ['virtio_pci', '9pnet_virtio', 'ext4', 'crc_t10dif']);
  t.same(sel.files, [
    'kernel/drivers/virtio/virtio.ko',
    'kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_pci.ko',
    'kernel/net/9p/9pnet.ko',
    'kernel/net/9p/9pnet_virtio.ko',
    'kernel/lib/crc-t10dif.ko',
  ], 'dependencies first, each once');
  t.same(sel.builtin, ['ext4']);
  t.throws(() => moduleClosure(dep, '', ['nope']), /"nope" is neither a module nor built into this kernel/);
  t.equal(filteredModulesDep(dep, ['kernel/drivers/virtio/virtio.ko', 'kernel/net/9p/9pnet.ko']), 'kernel/drivers/virtio/virtio.ko:\nkernel/net/9p/9pnet.ko:\n');
  const alias = 'alias virtio:d00000009v* 9pnet_virtio\nalias fs-ext4 ext4\nalias pci:v00001AF4d* virtio_pci\n';
  t.equal(filteredModulesAlias(alias, sel.files), 'alias virtio:d00000009v* 9pnet_virtio\nalias pci:v00001AF4d* virtio_pci\n');
});

t.test('kernel package names from apt and from the cache', async (t) => {
  const out = 'linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n';
  t.equal(parseKernelDepends(out, 'amd64'), 'linux-image-6.1.0-57-amd64');
  t.equal(parseKernelDepends('linux-image-amd64\n', 'amd64'), undefined);
  t.same(
    cachedKernelDebs(
      ['linux-image-6.1.0-9-amd64_6.1.27-1_amd64.deb', 'linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb', 'linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb', 'notes.txt'],
      'amd64',
    ),
    ['linux-image-6.1.0-9-amd64_6.1.27-1_amd64.deb', 'linux-image-6.1.0-57-amd64_6.1.192-3_amd64.deb'],
    'generic flavour only, newest last',
  );
});

t.test('cache directory', async (t) => {
  t.equal(builderCacheDir({ INCUS_IMAGE_BUILDER_CACHE: '/c' }, 0), '/c');
  t.equal(builderCacheDir({ XDG_CACHE_HOME: '/x' }, 1000), '/x/incus-image-builder');
  t.equal(builderCacheDir({}, 0), '/var/cache/incus-image-builder');
});

t.test('UKI section layout after the stub', async (t) => {
  const dump = `
Sections:
Idx Name          Size      VMA               LMA               File off  Algn
  0 .text         0000bff0  0000000000004000  0000000000004000  00000400  2**4
                  CONTENTS, ALLOC, LOAD, READONLY, CODE
  7 .sdmagic      00000034  0000000000019100  0000000000019100  00011200  2**2
`;
  const secs = parseObjdumpSections(dump);
  t.same(secs.map((s) => s.name), ['.text', '.sdmagic']);
  const layout = sectionLayout(secs, [
    { name: '.osrel', size: 10 },
    { name: '.linux', size: 0x20001 },
    { name: '.initrd', size: 5 },
  ]);
  t.same(layout, [
    { name: '.osrel', vma: 0x20000 },
    { name: '.linux', vma: 0x30000 },
    { name: '.initrd', vma: 0x60000 },
  ]);
});

t.test('disk helpers', async (t) => {
  t.equal(espSizeMiB(1000), 32);
  t.equal(espSizeMiB(40 * 1024 * 1024), 48);
  const g = derivedGuid('seed', 'disk');
  t.match(g, /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
  t.equal(derivedGuid('seed', 'disk'), g);
  t.not(derivedGuid('seed', 'esp'), g);
});

t.test('guest scripts keep their shell syntax', async (t) => {
  t.match(INIT_SCRIPT, /^#!\/bin\/sh\n/);
  t.match(INIT_SCRIPT, new RegExp(`echo "${READY_MARKER} cpus=\\$\\(nproc\\) mem_kb=\\$mem_kb `));
  t.notMatch(INIT_SCRIPT, /undefined/);
  t.match(UDHCPC_SCRIPT, /ip addr add "\$ip\/\$\{mask:-24\}"/);
});

t.test('--vm on the command line', async (t) => {
  const a = parseBuilderArgs(['busybox', '--vm', '--output', '/tmp/vm', '--import', 'testvm']);
  t.equal(a.vm, true);
  t.equal(a.output, '/tmp/vm');
  t.equal(a.importAlias, 'testvm');
  t.equal(parseBuilderArgs(['busybox']).vm, undefined);
  t.equal(parseBuilderArgs(['debian', '--vm']).vm, true, 'debian --vm builds the Debian VM image');
});

t.test('unified tarball members tell the image type', async (t) => {
  t.equal(memberType('rootfs.img'), 'virtual-machine');
  t.equal(memberType('./rootfs.img'), 'virtual-machine');
  t.equal(memberType('rootfs/'), 'container');
  t.equal(memberType('./rootfs/bin/sh'), 'container');
  t.equal(memberType('metadata.yaml'), null);
  t.equal(memberType('templates/hosts.tpl'), null);
});
