/**
 * What the Debian VM image adds to a debootstrapped tree (pure text): the
 * agent hook Incus images ship (incus-agent.service, its setup script that
 * copies the instance's `config` share into a tmpfs, and the udev rule
 * that starts it when the agent's port appears), DHCP on every wired NIC through
 * systemd-networkd, the initramfs module list, fstab and the kernel
 * command line baked into the unified kernel image.
 */

/** Packages on top of minbase: the kernel and its initramfs, systemd as init (logind answers the ACPI power button; it needs dbus), udev, basic tools. */
export const DEBIAN_VM_PACKAGES: readonly string[] = [
  'linux-image-amd64',
  'initramfs-tools',
  'systemd-sysv',
  'udev',
  'dbus',
  'iproute2',
  'netbase',
  'procps',
  'less',
];

/** Where the agent runs: a private exec-allowed tmpfs (initramfs-tools mounts /run noexec) filled from the share. */
export const AGENT_RUN_DIR = '/run/incus_agent';
/** The setup script's path, where Incus's install.sh puts it on a merged-/usr system. */
export const AGENT_SETUP_PATH = '/usr/lib/systemd/incus-agent-setup';
/** The systemd unit's name (the one Incus images ship). */
export const AGENT_UNIT_NAME = 'incus-agent.service';
/** The virtio-serial port the agent serves, as udev links it. */
export const AGENT_PORT_LINK = '/dev/virtio-ports/org.linuxcontainers.incus';
/** Label of the ext4 root filesystem. */
export const ROOT_LABEL = 'debian-root';

/**
 * The unit's setup step, in the shape of Incus's incus-agent-setup: mount
 * the instance's share tagged `config` (virtiofs, else 9p over virtio; a
 * drive labelled incus-agent as the fallback) read-only, copy it into a
 * fresh tmpfs at {@link AGENT_RUN_DIR}, unmount it. The agent (and its
 * secret, found next to it) then runs from the copy.
 */
export const AGENT_SETUP_SCRIPT = `#!/bin/sh
# incus-agent setup (incus-image-builder debian --vm): the config share copied into a private tmpfs.
set -eu
PREFIX=${AGENT_RUN_DIR}
MNT="$PREFIX.mnt"
mkdir -p "$MNT"
modprobe 9pnet_virtio >/dev/null 2>&1 || true
if ! mount -t virtiofs -o ro config "$MNT" >/dev/null 2>&1 &&
   ! mount -t 9p -o ro,access=0,trans=virtio,version=9p2000.L,msize=1048576 config "$MNT" >/dev/null 2>&1 &&
   ! mount -o ro /dev/disk/by-label/incus-agent "$MNT" >/dev/null 2>&1; then
  rmdir "$MNT" 2>/dev/null || true
  # A restart of the unit keeps the copy made at boot.
  [ -x "$PREFIX/incus-agent" ] && exit 0
  echo "incus-agent-setup: no config share (virtiofs or 9p tag config) or incus-agent drive"
  exit 1
fi
umount -l "$PREFIX" >/dev/null 2>&1 || true
mkdir -p "$PREFIX"
mount -t tmpfs -o mode=0700,size=50M tmpfs "$PREFIX"
cp -Ra "$MNT"/. "$PREFIX"/
umount "$MNT"
rmdir "$MNT"
chown -R root:root "$PREFIX"
`;

/**
 * The unit, in the shape of Incus's incus-agent.service: started by udev
 * when the agent's port appears (and wanted by multi-user.target, skipped
 * without the port), Type=notify since the agent reports ready.
 */
export const AGENT_UNIT = `[Unit]
Description=Incus - agent
Documentation=https://linuxcontainers.org/incus/docs/main/
ConditionPathExists=${AGENT_PORT_LINK}
Before=multi-user.target cloud-init.target cloud-init.service cloud-init-local.service
DefaultDependencies=no

[Service]
Type=notify
WorkingDirectory=-${AGENT_RUN_DIR}
ExecStartPre=${AGENT_SETUP_PATH}
ExecStart=${AGENT_RUN_DIR}/incus-agent
Restart=on-failure
RestartSec=5s
StartLimitInterval=60
StartLimitBurst=10

[Install]
WantedBy=multi-user.target
`;

/** udev: start the unit when the agent's virtio-serial port shows up (udev links it under /dev/virtio-ports). */
export const AGENT_UDEV_RULE = 'SYMLINK=="virtio-ports/org.linuxcontainers.incus", TAG+="systemd", ENV{SYSTEMD_WANTS}+="incus-agent.service"\n';

/** systemd-networkd: DHCP on any wired NIC (enp5s0 and the like in a VM, eth* too). */
export const NETWORKD_DHCP = `[Match]
Name=en* eth*

[Network]
DHCP=yes
`;

/**
 * initramfs-tools modules (MODULES=list): what mounting the root needs on
 * Incus's VM hardware (the root disk is on virtio-scsi; virtio-blk too),
 * so the initramfs stays small and quick to unpack under TCG.
 */
export const INITRAMFS_MODULES: readonly string[] = ['virtio_pci', 'virtio_scsi', 'sd_mod', 'virtio_blk', 'crc32c_generic', 'ext4'];

/** initramfs-tools configuration: only the listed modules; gzip (zstd is not in minbase). */
export const INITRAMFS_CONF = 'MODULES=list\nCOMPRESS=gzip\n';

/** /etc/fstab: the root by label, checked at boot; the ESP stays unmounted (the UKI is built on the host). */
export function debianVmFstab(): string {
  return `# <file system>\t<mount point>\t<type>\t<options>\t<dump>\t<pass>\nLABEL=${ROOT_LABEL}\t/\text4\terrors=remount-ro\t0\t1\n`;
}

/**
 * The kernel command line: the root by partition GUID (lower case, as
 * udev's /dev/disk/by-partuuid names it and initramfs-tools looks it up),
 * the serial console last so it is /dev/console, quiet kernel but systemd's
 * status lines kept (the boot and power-off show in `incus console --show-log`).
 */
export function debianVmCmdline(rootPartUuid: string): string {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(rootPartUuid)) {
    throw new RangeError(`Invalid partition GUID: ${rootPartUuid}`);
  }
  return `root=PARTUUID=${rootPartUuid.toLowerCase()} ro console=tty0 console=ttyS0 quiet systemd.show_status=1`;
}

/** A file to write into the tree, root-relative. */
export interface GuestFile {
  path: string;
  mode: number;
  content: string;
}

/** Every file the image adds or replaces, besides what depends on the mirror. */
export function debianVmFiles(hostname: string): GuestFile[] {
  return [
    { path: 'etc/fstab', mode: 0o644, content: debianVmFstab() },
    { path: 'etc/hostname', mode: 0o644, content: `${hostname}\n` },
    { path: 'etc/hosts', mode: 0o644, content: `127.0.0.1\tlocalhost\n127.0.1.1\t${hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\n` },
    { path: 'etc/systemd/network/20-dhcp.network', mode: 0o644, content: NETWORKD_DHCP },
    { path: 'etc/initramfs-tools/modules', mode: 0o644, content: `${INITRAMFS_MODULES.join('\n')}\n` },
    { path: 'etc/initramfs-tools/conf.d/incus-vm.conf', mode: 0o644, content: INITRAMFS_CONF },
    { path: AGENT_SETUP_PATH.slice(1), mode: 0o755, content: AGENT_SETUP_SCRIPT },
    { path: `usr/lib/systemd/system/${AGENT_UNIT_NAME}`, mode: 0o644, content: AGENT_UNIT },
    { path: 'usr/lib/udev/rules.d/99-incus-agent.rules', mode: 0o644, content: AGENT_UDEV_RULE },
  ];
}
