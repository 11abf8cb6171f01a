/**
 * The Debian VM image end to end: `incus-image-builder debian --vm`
 * (debootstrap from the host's apt mirror, UKI + ext4 root on a GPT disk),
 * `incus image import` of the split image, launch under QEMU (TCG here) in
 * a daemon inside a network namespace the test makes, the agent started by
 * the image's hook from the config share, exec, the DHCP address in
 * `incus list`, and a clean ACPI stop that systemd answers by powering off.
 * Opt-in (INCUS_TEST_DEBIAN=1, as the Debian container test): it downloads
 * about 100 MB of packages and boots systemd under emulation.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildDebianVmImage } from '../../lib/image-builder/debian-vm';
import { withDaemon } from './lib/daemon';
import { ok, qemuPids, waitGone } from './lib/vm';
import { attachConsole } from '../../lib/client/console';

const optIn = process.env.INCUS_TEST_DEBIAN === '1';
const haveTools = spawnSync('debootstrap', ['--version']).status === 0 && spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const skip = !optIn
  ? 'slow and needs the Debian mirror: set INCUS_TEST_DEBIAN=1 to run'
  : !haveTools
    ? 'debootstrap or qemu-system-x86_64 is not installed'
    : process.getuid?.() !== 0
      ? 'needs root'
      : !existsSync('/usr/share/OVMF/OVMF_CODE_4M.fd')
        ? 'OVMF is not installed'
        : false;

/** Boot to agent under TCG on a loaded 2-core host: systemd takes minutes. */
const AGENT_TIMEOUT_MS = 420_000;

const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));

t.test('a debootstrapped Debian VM boots, runs the agent, gets an address and powers off on stop', { skip, timeout: 1_800_000 }, async (t) => {
  const d = await withDaemon(t, { netns: true });
  t.teardown(async () => {
    for (const pid of qemuPids(d)) process.kill(pid, 'SIGKILL');
  });

  const built = Date.now();
  const img = await buildDebianVmImage({ outputDir: join(d.dir, 'debian-vm'), log: (l) => t.comment(`builder: ${l}`) });
  t.comment(`built ${img.metadata} + ${img.disk} (${(img.size / 1e6).toFixed(1)} MB, kernel ${img.kernelVersion}) in ${((Date.now() - built) / 1000).toFixed(0)} s`);
  const virtual = JSON.parse(spawnSync('qemu-img', ['info', '--output=json', img.disk], { encoding: 'utf8' }).stdout) as { 'virtual-size': number };
  t.equal(virtual['virtual-size'], 4096 * 1024 * 1024, 'a 4 GiB disk');

  await ok(t, d, ['image', 'import', img.metadata, img.disk, '--alias', 'debvm']);
  const images = JSON.parse(await ok(t, d, ['image', 'list', '--format', 'json'])) as { type: string; aliases: { name: string }[] }[];
  t.equal(images.find((i) => i.aliases.some((a) => a.name === 'debvm'))?.type, 'virtual-machine', 'imported as a VM image');

  const launched = Date.now();
  await ok(t, d, ['launch', 'debvm', 'v1', '--vm', '-c', 'security.secureboot=false', '-c', 'limits.memory=1GiB']);
  // The agent is up once exec answers (before that: Incus's 400 at once).
  let up = false;
  while (!up && Date.now() - launched < AGENT_TIMEOUT_MS) {
    up = (await d.cli(['exec', 'v1', '--', 'true'])).code === 0;
    if (!up) await sleep(3000);
  }
  const bootSeconds = (Date.now() - launched) / 1000;
  t.ok(up, `the agent answered exec ${bootSeconds.toFixed(0)} s after launch`);
  t.comment(`boot-to-agent under ${(await ok(t, d, ['info', 'v1'])).match(/Accelerator: (\w+)/)?.[1] ?? '?'}: ${bootSeconds.toFixed(1)} s`);
  if (!up) {
    t.comment((await d.cli(['console', 'v1', '--show-log'])).stdout.slice(-4000));
    return;
  }

  const osRelease = await ok(t, d, ['exec', 'v1', '--', 'cat', '/etc/os-release']);
  t.match(osRelease, /VERSION_CODENAME=bookworm/, 'exec cat /etc/os-release shows bookworm');
  t.equal((await ok(t, d, ['exec', 'v1', '--', 'readlink', '/proc/1/exe'])).trim(), '/usr/lib/systemd/systemd', 'PID 1 is systemd');
  t.equal((await ok(t, d, ['exec', 'v1', '--', 'uname', '-r'])).trim(), img.kernelVersion, 'the image kernel runs');
  t.equal((await d.cli(['exec', 'v1', '--', 'systemctl', 'is-active', 'incus-agent.service'])).stdout.trim(), 'active', 'the agent hook unit is active');
  t.match(await ok(t, d, ['exec', 'v1', '--', 'findmnt', '-n', '-o', 'SOURCE,FSTYPE', '/']), /^\/dev\/sda2 ext4$/m, 'root is the ext4 partition');

  let listed = '';
  const ipDeadline = Date.now() + 120_000;
  while (!/\d+\.\d+\.\d+\.\d+/.test(listed) && Date.now() < ipDeadline) {
    listed = (await d.cli(['list', 'v1', '-c', 'n4', '-f', 'csv'])).stdout;
    if (!/\d+\.\d+\.\d+\.\d+/.test(listed)) await sleep(2000);
  }
  t.match(listed, /^v1,"?10\.\d+\.\d+\.\d+ \((en|eth)\w*\)/m, `incus list shows the DHCP address: ${listed.trim()}`);

  // ACPI power button: logind powers the guest off and QEMU exits by itself, long before the timeout.
  // The serial console is followed live: the log of a stopped VM is not kept.
  const att = await attachConsole(d.client, 'v1', {});
  let consoleOut = '';
  att.data.on('message', (m: Buffer) => (consoleOut += m.toString('utf8')));
  const stopping = Date.now();
  await ok(t, d, ['stop', 'v1', '--timeout', '300']);
  const stopSeconds = (Date.now() - stopping) / 1000;
  t.ok(stopSeconds < 280, `stop took ${stopSeconds.toFixed(0)} s: the guest powered off, QEMU was not quit after the timeout`);
  t.same(await waitGone(d, 'qemu-system'), [], 'no QEMU left');
  att.control.close();
  att.data.close();
  await Promise.race([att.operation.wait().catch(() => undefined), sleep(10_000)]);
  t.match(consoleOut, /Reached target .*poweroff\.target|System Power Off/, 'the console shows systemd powering off');
  t.match(consoleOut, /reboot: Power down/, 'and the kernel powering the machine down');
  t.comment(`stop (ACPI to QEMU exit): ${stopSeconds.toFixed(1)} s`);

  await ok(t, d, ['delete', 'v1']);
  t.same(qemuPids(d), [], 'no QEMU left after delete');
});
