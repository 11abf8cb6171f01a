/**
 * pci, gpu and usb passthrough for VMs on a host with no IOMMU (and no USB
 * or GPU): 400s naming the device and key for bad options; a start that
 * fails with a clear error before QEMU runs, leaving no QEMU, tap or
 * passthrough record; a usb device with required=false and no match
 * skipped, so the VM starts. incusd runs in a network namespace the test
 * makes (the VM has the default profile's NIC on incusbr0, hence a tap).
 * No guest boots: an empty VM is started only in the last check and forced
 * off at once. Host devices are never touched: a host with an IOMMU skips
 * the checks that would bind one. Also: a NIC host_name naming an existing
 * non-tap interface is refused without taking that interface down.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestDaemon, withDaemon } from './lib/daemon';
import { ok, qemuPids, waitGone } from './lib/vm';

function taps(d: TestDaemon): string[] {
  const out = d.netns!.run(['ip', '-o', 'link', 'show', 'type', 'tun']).out;
  return out.split('\n').filter(Boolean);
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

const hostHasIommu = list('/sys/kernel/iommu_groups').length > 0;
const hostPci = list('/sys/bus/pci/devices');
const hostGpus = hostPci.filter((a) => {
  try {
    return readFileSync(join('/sys/bus/pci/devices', a, 'class'), 'utf8').startsWith('0x03');
  } catch {
    return false;
  }
});

t.test('pci / gpu / usb on VMs: clear errors when the host has none, nothing left behind', async (t) => {
  const d = await withDaemon(t, { netns: true });
  t.teardown(() => {
    for (const pid of qemuPids(d)) process.kill(pid, 'SIGKILL');
  });
  await ok(t, d, ['create', '--empty', '--vm', 'v1', '-c', 'security.secureboot=false', '-c', 'limits.memory=256MiB']);
  const logDir = join(d.dir, 'logs', 'v1');

  // Bad options: a 400 naming the device and the key, at once.
  const refused = async (devices: Record<string, Record<string, string>>, re: RegExp, what: string, name = 'v1'): Promise<void> => {
    const err = (await d.client.patchInstance(name, { devices }).catch((e: Error) => e)) as { status?: number; message?: string } | undefined;
    t.equal(err?.status, 400, `${what}: 400`);
    t.match(err?.message ?? '', re, `${what}: ${err?.message ?? 'accepted'}`);
  };
  await refused({ p0: { type: 'pci', address: 'zz:00.0' } }, /Invalid device "p0": Invalid value for "address": Invalid PCI address/, 'pci with a bad address');
  await refused({ p0: { type: 'pci' } }, /Invalid device "p0": Invalid value for "address"/, 'pci without an address');
  await refused({ u0: { type: 'usb', vendorid: 'ABCD' } }, /Invalid device "u0": Invalid value for "vendorid"/, 'usb with an upper-case vendorid');
  await refused({ g0: { type: 'gpu', uid: '1000' } }, /Invalid device "g0": Unknown key "uid"/, 'gpu with a container-only key');
  await ok(t, d, ['create', 'busybox', 'c1']);
  await refused({ p0: { type: 'pci', address: '0000:00:00.0' } }, /Unsupported device type "pci" for containers/, 'pci on a container', 'c1');
  await ok(t, d, ['delete', 'c1']);

  /** Adds device `name`, starts v1 expecting `re` in the failure, checks nothing is left, removes the device. */
  const failsToStart = async (name: string, config: string[], re: RegExp, what: string): Promise<void> => {
    await ok(t, d, ['config', 'device', 'add', 'v1', name, ...config]);
    const started = Date.now();
    const r = await d.cli(['start', 'v1']);
    t.not(r.code, 0, `${what}: start fails`);
    t.match(r.stderr, re, `${what}: ${r.stderr.trim()}`);
    t.ok(Date.now() - started < 30_000, `${what}: at once (${Date.now() - started} ms)`);
    t.same(qemuPids(d), [], `${what}: no QEMU`);
    t.same(taps(d), [], `${what}: no tap`);
    t.notOk(existsSync(join(logDir, 'passthrough.json')), `${what}: no passthrough record`);
    t.match(await ok(t, d, ['list', 'v1', '--format', 'csv', '-c', 's']), /STOPPED/, `${what}: stopped`);
    await ok(t, d, ['config', 'device', 'remove', 'v1', name]);
  };

  await failsToStart('p0', ['pci', 'address=0000:fe:1f.7'], /Failed to start device "p0": Invalid PCI address \(no device found\): 0000:fe:1f\.7/, 'pci at an empty address');
  if (hostHasIommu) {
    t.comment('this host has an IOMMU: the no-IOMMU checks are skipped (a test never takes a host device)');
  } else {
    t.ok(hostPci.length > 0, 'the host has PCI functions to name');
    await failsToStart('p0', ['pci', `address=${hostPci[0]}`], /Failed to start device "p0": Cannot pass PCI device \S+ through: the host has no IOMMU/, 'pci without an IOMMU');
    const gpuError = [
      /Failed to start device "gpu0": Failed to detect requested GPU device/,
      /Failed to start device "gpu0": Cannot pass PCI device \S+ through: the host has no IOMMU/,
    ][hostGpus.length] ?? /Failed to start device "gpu0": VMs cannot match multiple GPUs per device/;
    await failsToStart('gpu0', ['gpu', 'gputype=physical'], gpuError, 'gpu gputype=physical');
  }
  // A NIC whose host_name names an interface that is not a tap: refused, and that interface is never taken down.
  d.netns!.run(['ip', 'link', 'add', 'keep0', 'type', 'veth', 'peer', 'name', 'keep1']);
  // Named eth0 so it stands in for the profile's NIC (a second NIC of v1 on incusbr0 would clash on its DNS name).
  await failsToStart('eth0', ['nic', 'network=incusbr0', 'host_name=keep0'], /Device "eth0": Host interface "keep0" already exists/, 'a host_name naming another interface');
  t.match(d.netns!.run(['ip', '-o', 'link', 'show', 'keep0']).out, /keep0@keep1/, 'keep0 is still there');
  d.netns!.run(['ip', 'link', 'del', 'keep0']);

  // USB vendor ffff is reserved: no host has one.
  await failsToStart('u0', ['usb', 'vendorid=ffff', 'required=true'], /Failed to start device "u0": Required USB device not found/, 'a required usb device with no match');

  // required=false (the default): skipped, the VM starts; no USB controller or usb-host in QEMU's config.
  await ok(t, d, ['config', 'device', 'add', 'v1', 'u0', 'usb', 'vendorid=ffff']);
  await ok(t, d, ['start', 'v1']);
  t.match(await ok(t, d, ['list', 'v1', '--format', 'csv', '-c', 's']), /RUNNING/, 'running without the usb device');
  const conf = readFileSync(join(logDir, 'qemu.conf'), 'utf8');
  t.notMatch(conf, /qemu-xhci|usb-host|vfio-pci/, 'nothing passed through in qemu.conf');
  t.equal(taps(d).length, 1, "the NIC's tap while running (what the checks above look for)");
  await ok(t, d, ['stop', '-f', 'v1']);
  t.same(await waitGone(d, 'qemu-system'), [], 'stop -f: no QEMU');
  t.same(taps(d), [], 'stop -f: no tap');
  await ok(t, d, ['delete', 'v1']);
});
