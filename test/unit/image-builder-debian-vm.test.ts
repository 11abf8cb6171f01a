/** The Debian VM builder's pure parts: disk layout, kernel command line, guest files, metadata, arguments. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { parseBuilderArgs, UsageError } from '../../lib/image-builder/args';
import { debianVmMetadata } from '../../lib/image-builder/debian-vm';
import {
  AGENT_PORT_LINK,
  AGENT_RUN_DIR,
  AGENT_SETUP_PATH,
  AGENT_SETUP_SCRIPT,
  AGENT_UDEV_RULE,
  AGENT_UNIT,
  DEBIAN_VM_PACKAGES,
  INITRAMFS_MODULES,
  ROOT_LABEL,
  debianVmCmdline,
  debianVmFiles,
  debianVmFstab,
} from '../../lib/image-builder/vm/debian-guest';
import { derivedGuid, diskLayout } from '../../lib/image-builder/vm/disk';

t.test('parseBuilderArgs accepts debian --vm', async (t) => {
  const a = parseBuilderArgs(['debian', '--vm', '--release', 'bookworm', '--output', '/tmp/d', '--import', 'deb']);
  t.equal(a.kind, 'debian');
  t.equal(a.vm, true);
  t.equal(a.release, 'bookworm');
  t.equal(a.output, '/tmp/d');
  t.equal(a.importAlias, 'deb');
  t.throws(() => parseBuilderArgs(['debian', '--vm', '--busybox', '/b']), UsageError);
});

t.test('diskLayout: ESP at 1 MiB, the root after it up to the backup GPT', async (t) => {
  t.same(diskLayout(32), { espStart: 2048, espSectors: 65536, totalBytes: 34 * 1024 * 1024 }, 'ESP only: as before');
  const l = diskLayout(48, 4096);
  t.equal(l.totalBytes, 4096 * 1024 * 1024);
  t.equal(l.espStart, 2048);
  t.equal(l.root?.start, 2048 + 48 * 2048, 'root right after the ESP, MiB-aligned');
  t.equal((l.root!.start + l.root!.sectors) * 512, l.totalBytes - 1024 * 1024, 'the last MiB stays free for the backup GPT');
  t.throws(() => diskLayout(48, 60), RangeError);
  t.throws(() => diskLayout(48, 4096.5), RangeError);
});

t.test('kernel command line: root by lower-case PARTUUID, serial console last', async (t) => {
  const g = derivedGuid('seed', 'root');
  const c = debianVmCmdline(g);
  t.match(c, new RegExp(`^root=PARTUUID=${g.toLowerCase()} ro `));
  t.match(c, /console=ttyS0 /);
  t.ok(c.indexOf('console=tty0') < c.indexOf('console=ttyS0'), 'ttyS0 is /dev/console (the console log)');
  t.match(c, /systemd\.show_status=1/, 'systemd prints its start and power-off lines');
  t.throws(() => debianVmCmdline('not-a-guid'), RangeError);
});

t.test('guest files: agent hook, unit, networkd, initramfs, fstab', async (t) => {
  const files = debianVmFiles('deb');
  const by = (p: string): string => files.find((f) => f.path === p)?.content ?? '';
  t.equal(by('etc/hostname'), 'deb\n');
  t.match(by('etc/hosts'), /127\.0\.1\.1\tdeb\n/);
  t.equal(by(AGENT_SETUP_PATH.slice(1)), AGENT_SETUP_SCRIPT);
  t.equal(files.find((f) => f.path === AGENT_SETUP_PATH.slice(1))?.mode, 0o755, 'the setup script is executable');
  const unit = by('usr/lib/systemd/system/incus-agent.service');
  t.equal(unit, AGENT_UNIT, 'the unit where Incus\'s install.sh would put it');
  t.match(unit, new RegExp(`ExecStartPre=${AGENT_SETUP_PATH}\n`));
  t.match(unit, new RegExp(`ExecStart=${AGENT_RUN_DIR}/incus-agent\n`));
  t.match(unit, /Type=notify/, 'the agent reports ready');
  t.match(unit, new RegExp(`ConditionPathExists=${AGENT_PORT_LINK}\n`), 'skipped where there is no agent port');
  t.match(unit, /WantedBy=multi-user\.target/);
  t.equal(by('usr/lib/udev/rules.d/99-incus-agent.rules'), AGENT_UDEV_RULE);
  t.match(AGENT_UDEV_RULE, /SYMLINK=="virtio-ports\/org\.linuxcontainers\.incus".*SYSTEMD_WANTS.*incus-agent\.service/);
  t.match(by('etc/systemd/network/20-dhcp.network'), /Name=en\* eth\*[\s\S]*DHCP=yes/);
  t.same(by('etc/initramfs-tools/modules').trim().split('\n'), INITRAMFS_MODULES);
  t.match(by('etc/initramfs-tools/conf.d/incus-vm.conf'), /^MODULES=list$/m);
  for (const m of ['virtio_pci', 'virtio_scsi', 'sd_mod', 'ext4']) t.ok(INITRAMFS_MODULES.includes(m), `initramfs has ${m}`);
  t.equal(debianVmFstab().split('\n').filter((l) => l && !l.startsWith('#')).join(''), `LABEL=${ROOT_LABEL}\t/\text4\terrors=remount-ro\t0\t1`);
  for (const p of ['linux-image-amd64', 'systemd-sysv', 'udev', 'dbus', 'initramfs-tools']) t.ok(DEBIAN_VM_PACKAGES.includes(p), `installs ${p}`);
});

t.test('the setup script copies the config share into an exec-allowed tmpfs', async (t) => {
  t.match(AGENT_SETUP_SCRIPT, /^#!\/bin\/sh\n/);
  t.match(AGENT_SETUP_SCRIPT, new RegExp(`PREFIX=${AGENT_RUN_DIR}\n`));
  t.match(AGENT_SETUP_SCRIPT, /mount -t virtiofs -o ro config "\$MNT"/);
  t.match(AGENT_SETUP_SCRIPT, /mount -t 9p -o ro,access=0,trans=virtio,version=9p2000\.L,msize=1048576 config "\$MNT"/);
  t.match(AGENT_SETUP_SCRIPT, /mount -t tmpfs -o mode=0700,size=50M tmpfs "\$PREFIX"/, 'its own tmpfs: /run is noexec under initramfs-tools');
  t.ok(AGENT_SETUP_SCRIPT.indexOf('mount -t tmpfs') < AGENT_SETUP_SCRIPT.indexOf('cp -Ra'), 'mounted before the copy');
  const syntax = spawnSync('sh', ['-n'], { input: AGENT_SETUP_SCRIPT });
  t.equal(syntax.status, 0, `sh -n accepts the script: ${syntax.stderr}`);
});

t.test('debianVmMetadata: no templates, secure boot off, the kernel named', async (t) => {
  const m = debianVmMetadata('x86_64', 'bookworm', '6.1.0-57-amd64', 1_700_000_000);
  t.equal(m.architecture, 'x86_64');
  t.equal(m.properties?.os, 'debian');
  t.equal(m.properties?.release, 'bookworm');
  t.equal(m.properties?.['requirements.secureboot'], 'false');
  t.match(m.properties?.description, /^Debian bookworm amd64 \(20231114_2213\) VM, kernel 6\.1\.0-57-amd64$/);
  t.same(m.templates, {});
});
