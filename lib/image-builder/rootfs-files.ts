/** Contents of the small files and directories of the busybox rootfs (pure). */

/** A directory to create, rootfs-relative, with its mode. */
export interface RootfsDir {
  path: string;
  mode: number;
}

/** A regular file to write, rootfs-relative. */
export interface RootfsFile {
  path: string;
  mode: number;
  content: string;
}

/** A symlink to create, rootfs-relative. */
export interface RootfsLink {
  path: string;
  target: string;
}

/** Directories of the rootfs besides those the applets need. */
export const ROOTFS_DIRS: readonly RootfsDir[] = [
  { path: 'bin', mode: 0o755 },
  { path: 'dev', mode: 0o755 },
  { path: 'etc', mode: 0o755 },
  { path: 'etc/init.d', mode: 0o755 },
  { path: 'home', mode: 0o755 },
  { path: 'mnt', mode: 0o755 },
  { path: 'proc', mode: 0o755 },
  { path: 'root', mode: 0o700 },
  { path: 'run', mode: 0o755 },
  { path: 'sbin', mode: 0o755 },
  { path: 'sys', mode: 0o755 },
  { path: 'tmp', mode: 0o1777 },
  { path: 'usr', mode: 0o755 },
  { path: 'usr/bin', mode: 0o755 },
  { path: 'usr/sbin', mode: 0o755 },
  { path: 'var', mode: 0o755 },
  { path: 'var/log', mode: 0o755 },
  { path: 'var/run', mode: 0o755 },
  { path: 'var/tmp', mode: 0o1777 },
];

/**
 * busybox init reads this. No getty, askfirst or respawn entries: the
 * container has no ttys to serve and sits idle. There is deliberately no
 * `umount -a -r` at shutdown: in a privileged container a failed umount of
 * `/` falls back to a plain remount read-only, which would hit the host's
 * filesystem.
 */
export const INITTAB = `# busybox init: nothing runs on any tty, so the container stays idle and quiet.
::sysinit:/etc/init.d/rcS
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
`;

/**
 * The sysinit script. LXC has already mounted /proc, /sys and /dev (and
 * Incus sets the hostname), so it only re-applies /etc/hostname and brings
 * up the loopback interface.
 */
export const RCS = `#!/bin/sh
# Container boot: /proc, /sys and /dev are mounted by LXC already.
if [ -s /etc/hostname ]; then
	hostname -F /etc/hostname
fi
ip link set lo up 2>/dev/null
exit 0
`;

/** Regular files under etc/. */
export const ROOTFS_FILES: readonly RootfsFile[] = [
  { path: 'etc/inittab', mode: 0o644, content: INITTAB },
  { path: 'etc/init.d/rcS', mode: 0o755, content: RCS },
  {
    path: 'etc/passwd',
    mode: 0o644,
    content: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  },
  { path: 'etc/group', mode: 0o644, content: 'root:x:0:\nnobody:x:65534:\n' },
  { path: 'etc/shadow', mode: 0o600, content: 'root:*:0:0:99999:7:::\nnobody:*:0:0:99999:7:::\n' },
  { path: 'etc/hostname', mode: 0o644, content: 'busybox\n' },
  {
    path: 'etc/hosts',
    mode: 0o644,
    content: '127.0.0.1\tlocalhost\n127.0.1.1\tbusybox\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  },
  { path: 'etc/shells', mode: 0o644, content: '/bin/sh\n/bin/ash\n' },
];

/** Symlinks that are not applets. */
export const ROOTFS_LINKS: readonly RootfsLink[] = [
  // mount, umount and df read the mount table from here.
  { path: 'etc/mtab', target: '../proc/self/mounts' },
];
