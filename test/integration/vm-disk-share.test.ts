/**
 * A host-path disk device on a VM: shared through virtiofsd (one per
 * share, stopped with the VM) with Incus's mount tag `incus_<device>`, and
 * through 9p when the host has no virtiofsd. The guest (the test VM image,
 * a root shell on its serial console) mounts the tag and reads a host file.
 */
import t from 'tap';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { buildTestVm, guestRun, ok, pidsOf, waitConsole, waitGone } from './lib/vm';

t.test('a host directory on a VM: virtiofs with virtiofsd, 9p without', async (t) => {
  const saved = process.env.INCUS_VIRTIOFSD_PATH;
  const d = await withDaemon(t);
  t.teardown(() => {
    for (const pid of [...pidsOf(d, 'qemu-system'), ...pidsOf(d, 'virtiofsd')]) process.kill(pid, 'SIGKILL');
    if (saved === undefined) delete process.env.INCUS_VIRTIOFSD_PATH;
    else process.env.INCUS_VIRTIOFSD_PATH = saved;
  });
  const b = buildTestVm(d);
  t.equal(b.status, 0, `image builder: ${b.stderr.slice(-500)}`);

  const shared = join(d.dir, 'shared');
  mkdirSync(shared);
  writeFileSync(join(shared, 'hello'), 'host-share-works\n');
  await ok(t, d, ['create', 'testvm', 'v1', '--vm', '-c', 'security.secureboot=false']);
  await ok(t, d, ['config', 'device', 'add', 'v1', 'data', 'disk', `source=${shared}`, 'path=/mnt/data']);

  // With virtiofsd (the host has /usr/lib/qemu/virtiofsd).
  await ok(t, d, ['start', 'v1']);
  // The pidfile names the daemon started (the C virtiofsd forks once more into its sandbox namespaces).
  const pid = Number(readFileSync(join(d.dir, 'logs', 'v1', 'virtio-fs.data.pid'), 'utf8'));
  t.ok(pidsOf(d, 'virtiofsd').includes(pid), 'virtiofsd runs for the share, its pid in virtio-fs.data.pid');
  t.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /virtio-fs\.data\.sock/, 'its socket is named after the device');
  t.match(readFileSync(join(d.dir, 'logs', 'v1', 'qemu.conf'), 'utf8'), /driver = "vhost-user-fs-pci"[\s\S]*tag = "incus_data"/, 'QEMU has a vhost-user-fs device tagged incus_data');
  t.ok(await waitConsole(d, 'v1', /INCUS-TESTVM-READY/), 'the guest booted');
  // sed turns the content into text the typed command does not hold.
  const viaFs = await guestRun(d, 'v1', 'mkdir -p /mnt/data; mount -t virtiofs incus_data /mnt/data && sed s/works/WORKS/ /mnt/data/hello', /host-share-WORKS/);
  t.match(viaFs, /host-share-WORKS/, 'the guest mounted the virtiofs tag and read the host file');
  await ok(t, d, ['stop', 'v1', '--force']);
  t.same(await waitGone(d, 'qemu-system'), [], 'no QEMU left');
  t.same(await waitGone(d, 'virtiofsd'), [], 'stop: no virtiofsd left');
  t.same(readdirSync(join(d.dir, 'logs', 'v1')).filter((n) => n.startsWith('virtio-fs.')), [], 'no socket or pidfile left');

  // Without virtiofsd: 9p, same tag.
  process.env.INCUS_VIRTIOFSD_PATH = '';
  await d.signal('SIGTERM');
  await d.start();
  await ok(t, d, ['start', 'v1']);
  t.same(pidsOf(d, 'virtiofsd'), [], 'no virtiofsd without the binary');
  t.match(readFileSync(join(d.dir, 'logs', 'v1', 'qemu.conf'), 'utf8'), /driver = "virtio-9p-pci"[\s\S]*mount_tag = "incus_data"/, 'a 9p device tagged incus_data');
  const via9p = await guestRun(
    d,
    'v1',
    'mkdir -p /mnt/data; mount -t 9p -o trans=virtio,version=9p2000.L incus_data /mnt/data && sed s/works/NINEP/ /mnt/data/hello',
    /host-share-NINEP/,
  );
  t.match(via9p, /host-share-NINEP/, 'the guest mounted the 9p tag and read the host file');
  await ok(t, d, ['delete', '-f', 'v1']);
  t.same(await waitGone(d, 'qemu-system'), [], 'delete: no QEMU left');
});
