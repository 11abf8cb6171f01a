/**
 * Publishing a VM as an image, as Incus does it: a stopped VM (and a VM
 * snapshot) become a unified tarball whose `rootfs.img` is the root disk
 * converted to qcow2, recorded as a `virtual-machine` image that boots
 * again (under TCG here); a running VM is refused like a container.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { withDaemon } from './lib/daemon';
import { buildTestVm, ok, qemuPids, waitConsole } from './lib/vm';
import { createImage } from '../../lib/client/images';

interface ListedImage {
  fingerprint: string;
  type: string;
  architecture: string;
  properties: Record<string, string>;
  aliases: { name: string }[];
}

t.test('publish a stopped VM and a VM snapshot; the image boots; a running VM is refused', async (t) => {
  const d = await withDaemon(t);
  t.teardown(() => {
    for (const pid of qemuPids(d)) process.kill(pid, 'SIGKILL');
  });
  const b = buildTestVm(d);
  t.equal(b.status, 0, `image builder: ${b.stderr.slice(-500)}`);

  // Never started: its disk is the image's, converted to raw on create.
  await ok(t, d, ['create', 'testvm', 'v1', '--vm', '-c', 'security.secureboot=false']);
  await ok(t, d, ['snapshot', 'create', 'v1', 's0']);
  t.match(await ok(t, d, ['publish', 'v1', '--alias', 'pub', 'description=from-v1']), /Instance published with fingerprint: [0-9a-f]{64}/);
  await ok(t, d, ['publish', 'v1/s0', '--alias', 'pubsnap', 'description=from-s0']);

  const images = JSON.parse(await ok(t, d, ['image', 'list', '--format', 'json'])) as ListedImage[];
  const pub = images.find((i) => i.aliases.some((a) => a.name === 'pub'));
  const snap = images.find((i) => i.aliases.some((a) => a.name === 'pubsnap'));
  t.equal(pub?.type, 'virtual-machine', 'published VM: a virtual-machine image');
  t.equal(snap?.type, 'virtual-machine', 'published VM snapshot: a virtual-machine image');
  t.equal(pub?.properties.description, 'from-v1', 'properties given on the command line');
  t.equal(pub?.architecture, 'x86_64');
  t.match(await ok(t, d, ['image', 'list', 'pub', '-c', 'lt', '-f', 'csv']), /^pub,VIRTUAL-MACHINE$/m, 'image list shows VIRTUAL-MACHINE');

  // A unified tarball, as Incus's qemu Export writes it: metadata.yaml and a qcow2 rootfs.img.
  const members = spawnSync('tar', ['-tf', join(d.dir, 'images', pub!.fingerprint)], { encoding: 'utf8' }).stdout.split('\n');
  t.ok(members.includes('metadata.yaml') && members.includes('rootfs.img'), `members: ${members.filter(Boolean).join(' ')}`);
  const head = spawnSync('sh', ['-c', `tar -xOf '${join(d.dir, 'images', pub!.fingerprint)}' rootfs.img | head -c 4 | od -An -tx1`], { encoding: 'utf8' });
  t.equal(head.stdout.trim(), '51 46 49 fb', 'rootfs.img is qcow2');

  // The split format: a metadata tarball, and the disk itself as (compressed) qcow2.
  const split = /fingerprint: ([0-9a-f]{64})/.exec(await ok(t, d, ['publish', 'v1', '--alias', 'pubsplit', '--format=split']))?.[1] ?? '';
  const splitFile = join(d.dir, 'images', split);
  t.same(spawnSync('tar', ['-tf', splitFile], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean), ['metadata.yaml'], 'split metadata tarball');
  const splitHead = spawnSync('sh', ['-c', `head -c 4 '${splitFile}.rootfs' | od -An -tx1`], { encoding: 'utf8' });
  t.equal(splitHead.stdout.trim(), '51 46 49 fb', 'split rootfs file is qcow2');
  t.equal((await d.client.getImage(split)).type, 'virtual-machine', 'split VM image: a virtual-machine image');
  await ok(t, d, ['create', 'pubsplit', 'v3', '--vm', '-c', 'security.secureboot=false']);
  await ok(t, d, ['delete', 'v3']);
  await ok(t, d, ['image', 'delete', 'pubsplit']);

  // The published image boots.
  await ok(t, d, ['launch', 'pub', 'v2', '--vm', '-c', 'security.secureboot=false']);
  t.ok(await waitConsole(d, 'v2', /INCUS-TESTVM-READY/), 'a VM launched from the published image boots to its marker');

  const running = await d.cli(['publish', 'v2', '--alias', 'nope']);
  t.not(running.code, 0, 'a running VM is not published without --force');
  const api = await createImage(d.client, { source: { type: 'instance', name: 'v2' } }).catch((e: Error) => e);
  t.match(String(api), /The instance is currently running, please stop it first/, 'the API refuses a running VM');
  t.equal((api as { status?: number }).status, 400, 'with a 400');

  await ok(t, d, ['delete', '-f', 'v2']);
  await ok(t, d, ['delete', 'v1']);
  await ok(t, d, ['image', 'delete', 'pub', 'pubsnap']);
  t.same(qemuPids(d), [], 'no QEMU left');
});
